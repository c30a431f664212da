/**
 * WAL checkpoints off the request path (src/fhir/store/checkpointer.ts): the writer never
 * checkpoints inside a COMMIT, yet the WAL stays bounded under sustained writes and is truncated
 * once writes pause.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Patient } from '@medplum/fhirtypes';
import { SqliteRepository } from '../../../src/fhir/store/sqlite-repository';
import { SqliteStore } from '../../../src/fhir/store/sqlite-store';

const BASE = 'http://localhost:8103/';
const MB = 1024 * 1024;

function walBytes(path: string): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

describe('WAL checkpoints on a worker thread (src/fhir/store/checkpointer.ts)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dermbridge-checkpoints-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('turns automatic checkpoints off on the writer connection', async () => {
    const store = new SqliteStore({ path: join(dir, 'store.sqlite'), baseUrl: BASE });
    assert.equal((store.writer.prepare('PRAGMA wal_autocheckpoint').get() as { wal_autocheckpoint: number }).wal_autocheckpoint, 0);
    await store.close();
  });

  it('keeps the WAL bounded under sustained writes, and truncates it once they pause', async function () {
    this.timeout(120_000);
    const path = join(dir, 'store.sqlite');
    const bound = 4 * MB;
    const store = new SqliteStore({ path, baseUrl: BASE, checkpoints: { intervalMs: 50, idleMs: 400, walBoundBytes: bound, maxTruncateWaitMs: 2000 } });
    const repo = new SqliteRepository(store);
    const filler = 'x'.repeat(8 * 1024);
    let written = 0;
    let maxWal = 0;
    // Back-to-back group commits of ~240 MB of resource JSON, as fast as the writer goes: without
    // the checkpoint thread the WAL would hold all of it (twice: current row and version row).
    for (let batch = 0; batch < 300; batch++) {
      const patients = Array.from({ length: 100 }, (_, i): Patient => ({
        resourceType: 'Patient',
        name: [{ family: `Family${batch}-${i}` }],
        text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${filler}</div>` },
      }));
      await Promise.all(patients.map((p) => repo.createResource(p)));
      written += patients.length * filler.length;
      maxWal = Math.max(maxWal, walBytes(path));
    }
    // The overshoot past the bound is what the writer commits while the thread notices (one tick
    // plus a truncation): a few MB on a quiet machine, allowed 10× on a loaded one.
    assert.ok(written > 50 * bound);
    assert.ok(maxWal < 10 * bound, `WAL reached ${(maxWal / MB).toFixed(1)} MB with ${(written / MB).toFixed(0)} MB written (bound ${bound / MB} MB)`);
    // Once writes pause, the WAL goes back to nothing.
    const deadline = Date.now() + 10_000;
    while (walBytes(path) > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(walBytes(path), 0, 'the WAL was not truncated after writes paused');
    const stats = await store.close();
    assert.ok(stats && stats.passive > 0 && stats.truncate > 0, JSON.stringify(stats));
    // Everything written is in the database.
    const reopened = new SqliteStore({ path, baseUrl: BASE });
    assert.equal((reopened.reader.prepare("SELECT COUNT(*) AS n FROM resource WHERE type = 'Patient'").get() as { n: number }).n, 30_000);
    await reopened.close();
  });
});
