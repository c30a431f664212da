import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** A content file written and synced, not yet referenced by a committed row. */
export interface StagedFile {
  readonly path: string;
  readonly size: number;
  /** Set once a write has recorded it in its transaction: from then on only a rollback removes it. */
  claimed: boolean;
}

/**
 * Binary content as files beside the database, one per Binary version (Medplum keeps Binary bytes
 * in blob storage, not Postgres, for the same reason): photo bytes never pass through the WAL,
 * its checkpoints or the page cache. Layout `<dir>/<h0h1>/<h2h3>/<id>_<versionId>`, `h` the sha256
 * of the id, so client-chosen ids spread evenly and can never name a path (`..` stays a file name).
 *
 * Atomicity: a file is written to a temp name, fsynced, renamed and its directory fsynced
 * **before** the SQLite COMMIT that references it, so the commit remains the one atomic point. A
 * rolled-back write removes its file (WriteCoordinator.afterRollback), and `sweep` at start-up
 * removes what a crash between file and commit left behind.
 */
export class BinaryFiles {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  pathOf(id: string, versionId: string): string {
    const h = createHash('sha256').update(id).digest('hex');
    return join(this.dir, h.slice(0, 2), h.slice(2, 4), `${id}_${versionId}`);
  }

  /** Writes off the event loop (thread pool); durable when the promise resolves. */
  async stage(id: string, versionId: string, bytes: Uint8Array): Promise<StagedFile> {
    const path = this.pathOf(id, versionId);
    const created = await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const temp = tempName(path);
    try {
      const file = await open(temp, 'wx', 0o600);
      try {
        await file.writeFile(bytes);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, path);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    // On the thread pool too: a new shard is three directory syncs, which on the event loop would
    // hold up every other request (nine images of a case, ~10 ms).
    await Promise.all(this.dirsToSync(path, created).map(syncDir));
    return { path, size: bytes.length, claimed: false };
  }

  /** The same, synchronously: bulk import and the migration, which run inside a synchronous write. */
  stageSync(id: string, versionId: string, bytes: Uint8Array): StagedFile {
    const path = this.pathOf(id, versionId);
    const created = mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const temp = tempName(path);
    try {
      const fd = openSync(temp, 'wx', 0o600);
      try {
        let at = 0;
        while (at < bytes.length) {
          at += writeSync(fd, bytes, at, bytes.length - at);
        }
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, path);
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
    for (const dir of this.dirsToSync(path, created)) {
      const fd = openSync(dir, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    return { path, size: bytes.length, claimed: false };
  }

  read(id: string, versionId: string): Buffer | undefined {
    try {
      return readFileSync(this.pathOf(id, versionId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return undefined;
      }
      throw err;
    }
  }

  /** Size of a version's content file, or undefined when that version has no content. */
  sizeOf(id: string, versionId: string): number | undefined {
    try {
      return statSync(this.pathOf(id, versionId)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return undefined;
      }
      throw err;
    }
  }

  /** Removes a file; a missing one is fine (removal runs from rollbacks and purges that may repeat). */
  remove(path: string): void {
    rmSync(path, { force: true });
  }

  /**
   * Removes every content file (and leftover temp file) whose version `isCommitted` does not
   * know: what a crash between file write and COMMIT left. Run at start-up, before any write.
   */
  sweep(isCommitted: (id: string, versionId: string) => boolean): number {
    let removed = 0;
    for (const a of safeReaddir(this.dir)) {
      for (const b of safeReaddir(join(this.dir, a))) {
        const shard = join(this.dir, a, b);
        for (const name of safeReaddir(shard)) {
          const sep = name.lastIndexOf('_');
          if (name.endsWith('.tmp') || sep <= 0 || !isCommitted(name.slice(0, sep), name.slice(sep + 1))) {
            rmSync(join(shard, name), { force: true });
            removed++;
          }
        }
      }
    }
    return removed;
  }

  /**
   * The rename (and any shard directory just created) is durable only once the directories that
   * name them are synced: otherwise a power cut after COMMIT could lose a referenced file.
   */
  private dirsToSync(path: string, created: string | undefined): string[] {
    return created ? [dirname(path), dirname(dirname(path)), this.dir] : [dirname(path)];
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function tempName(path: string): string {
  return `${path}.${randomBytes(6).toString('hex')}.tmp`;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
