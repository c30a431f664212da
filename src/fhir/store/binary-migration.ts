import { closeSync, existsSync, fsyncSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import type { BinaryFiles } from './binary-files';

/**
 * Stores written before content files kept Binary bytes in `binary_content`. At open each row is
 * moved out: file written and synced, then the row deleted in its own transaction, so a crash at
 * any point leaves the bytes in the row (the file, unreferenced, is swept and written again) or
 * in the file (the row gone). Returns the number of rows moved.
 */
export function moveBinaryContentToFiles(db: DatabaseSync, files: BinaryFiles): number {
  const next = db.prepare(
    'SELECT b.rid, b.version_id AS versionId, r.id, b.bytes FROM binary_content b JOIN resource r ON r.rid = b.rid LIMIT 1'
  );
  const remove = db.prepare('DELETE FROM binary_content WHERE rid = ? AND version_id = ?');
  let moved = 0;
  for (let row = next.get(); row; row = next.get()) {
    const { rid, versionId, id, bytes } = row as { rid: number; versionId: string; id: string; bytes: Uint8Array };
    files.stageSync(id, versionId, bytes);
    db.exec('BEGIN IMMEDIATE');
    try {
      remove.run(rid, versionId);
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
    moved++;
  }
  // Rows of resources that no longer exist have nothing to move to.
  db.exec('DELETE FROM binary_content');
  return moved;
}

/**
 * Removes content files that no live Binary version names: a crash between a file's write and the
 * COMMIT that would have referenced it, or between an expunge's COMMIT and its file removal.
 * Runs at open, before any write, so no write in progress can lose its staged file; skipped when
 * the store was closed cleanly (a running store removes its own leftovers), so start-up does not
 * grow with the number of photos after a normal restart.
 */
export function sweepAfterCrash(db: DatabaseSync, files: BinaryFiles): number {
  const marker = join(files.dir, CLEAN_CLOSE_MARKER);
  if (existsSync(marker)) {
    rmSync(marker);
    // Durably gone before any write: a crash from now on must find no marker.
    const fd = openSync(files.dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return 0;
  }
  return sweepContentFiles(db, files);
}

/** Written by a clean close: the next open needs no sweep. */
export function markCleanClose(files: BinaryFiles): void {
  writeFileSync(join(files.dir, CLEAN_CLOSE_MARKER), '');
}

const CLEAN_CLOSE_MARKER = '.closed-cleanly';

export function sweepContentFiles(db: DatabaseSync, files: BinaryFiles): number {
  const live = db.prepare(
    "SELECT 1 AS live FROM resource r JOIN resource_version v ON v.rid = r.rid WHERE r.type = 'Binary' AND r.id = ? AND v.version_id = ? AND v.deleted = 0"
  );
  return files.sweep((id, versionId) => live.get(id, versionId) !== undefined);
}
