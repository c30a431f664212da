import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { DurabilityBarrier, StorageSyncError } from '../../../src/fhir/store/durability-barrier';
import { WriteCoordinator } from '../../../src/fhir/store/write-coordinator';

/** A sync whose completions the test releases by hand, counting what it was asked to sync. */
function heldSync() {
  const pending: ((err: NodeJS.ErrnoException | null) => void)[] = [];
  return {
    calls: () => pending.length,
    sync: (_fd: number, done: (err: NodeJS.ErrnoException | null) => void) => {
      pending.push(done);
    },
    release: (i: number, err: NodeJS.ErrnoException | null = null) => pending[i](err),
  };
}

const settled = async <T>(p: Promise<T>): Promise<'pending' | 'resolved' | 'rejected'> => {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  p.then(
    () => (state = 'resolved'),
    () => (state = 'rejected')
  );
  await new Promise((r) => setImmediate(r));
  return state;
};

describe('DurabilityBarrier', () => {
  let dir: string;
  let wal: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dermbridge-barrier-'));
    wal = join(dir, 'store.sqlite-wal');
    writeFileSync(wal, 'frames');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('acknowledges a commit only after the WAL sync that started after it has finished', async () => {
    const held = heldSync();
    const barrier = new DurabilityBarrier(wal, held.sync);
    const ack = barrier.committed();
    assert.equal(held.calls(), 1);
    assert.equal(await settled(ack), 'pending');
    held.release(0);
    assert.equal(await settled(ack), 'resolved');
  });

  it('lets commits made during a sync wait for the next one, which covers all of them', async () => {
    const held = heldSync();
    const barrier = new DurabilityBarrier(wal, held.sync);
    const first = barrier.committed();
    // These commit while the first sync is on disk: that sync may not include their frames.
    const second = barrier.committed();
    const third = barrier.committed();
    assert.equal(held.calls(), 1);
    held.release(0);
    assert.equal(await settled(first), 'resolved');
    assert.equal(await settled(second), 'pending');
    assert.equal(held.calls(), 2, 'one more sync for everything that queued behind the first');
    held.release(1);
    assert.deepEqual([await settled(second), await settled(third)], ['resolved', 'resolved']);
  });

  it('stops taking writes after a failed sync: the waiting and every later commit are refused', async () => {
    const held = heldSync();
    const barrier = new DurabilityBarrier(wal, held.sync);
    const first = barrier.committed();
    const second = barrier.committed();
    held.release(0, Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
    await assert.rejects(first, StorageSyncError);
    await assert.rejects(second, StorageSyncError);
    await assert.rejects(barrier.committed(), /could not be synced to disk; restart the server \(EIO/);
    assert.throws(() => barrier.assertWritable(), StorageSyncError);
  });

  it('runs a held-back write once the sync in flight ends, and at once when none is', async () => {
    const held = heldSync();
    const barrier = new DurabilityBarrier(wal, held.sync);
    const ran: string[] = [];
    barrier.whenSyncEnds(() => ran.push('idle'));
    assert.deepEqual(ran, ['idle']);
    void barrier.committed();
    barrier.whenSyncEnds(() => ran.push('after first'));
    void barrier.committed();
    assert.deepEqual(ran, ['idle']);
    held.release(0);
    assert.deepEqual(ran, ['idle', 'after first'], 'waits for one sync only, though the next one has started');
    barrier.whenSyncEnds(() => ran.push('after second'));
    held.release(1, Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
    assert.deepEqual(ran, ['idle', 'after first', 'after second'], 'also after a failed sync (the write is then refused)');
  });

  it('syncs a real file with fdatasync', async () => {
    const barrier = new DurabilityBarrier(wal);
    await Promise.all([barrier.committed(), barrier.committed(), barrier.committed()]);
    await barrier.close();
  });

  describe('in the WriteCoordinator', () => {
    let db: DatabaseSync;
    let held: ReturnType<typeof heldSync>;
    let coordinator: WriteCoordinator;
    const count = (): number => (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
    beforeEach(() => {
      db = new DatabaseSync(join(dir, 'store.sqlite'));
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE t (v TEXT)');
      held = heldSync();
      coordinator = new WriteCoordinator(db, new DurabilityBarrier(join(dir, 'store.sqlite-wal'), held.sync));
    });
    afterEach(() => db.close());

    it('answers a grouped write only after the sync, though it is committed before', async () => {
      const write = coordinator.grouped(() => db.prepare('INSERT INTO t VALUES (?)').run('a'));
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      assert.equal(count(), 1, 'committed');
      assert.equal(await settled(write), 'pending', 'not acknowledged before the WAL is on disk');
      held.release(0);
      assert.equal(await settled(write), 'resolved');
    });

    it('holds grouped writes back while the WAL syncs, commits them together when it ends, and keeps their place in line', async () => {
      const commits: number[] = [];
      const first = coordinator.grouped(() => db.prepare('INSERT INTO t VALUES (?)').run('a'));
      while (held.calls() < 1) {
        await new Promise((r) => setImmediate(r));
      }
      const later = [1, 2, 3].map((i) => coordinator.grouped(() => (commits.push(i), db.prepare('INSERT INTO t VALUES (?)').run(`b${i}`))));
      // A transaction queued after them waits its turn behind them.
      const tx = coordinator.exclusive(async () => (commits.push(4), db.prepare('INSERT INTO t VALUES (?)').run('c')));
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setImmediate(r));
      }
      assert.equal(count(), 1, 'nothing committed while the first sync is in flight');
      held.release(0);
      assert.equal(await settled(first), 'resolved');
      while (count() < 5) {
        await new Promise((r) => setImmediate(r));
      }
      assert.deepEqual(commits, [1, 2, 3, 4], 'the held-back writes in one batch, then the transaction');
      assert.deepEqual(await Promise.all([...later, tx].map(settled)), ['pending', 'pending', 'pending', 'pending'], 'acknowledged only after their sync');
      held.release(1);
      assert.deepEqual(await Promise.all(later.map(settled)), ['resolved', 'resolved', 'resolved'], 'one sync for all three');
      while (held.calls() < 3) {
        await new Promise((r) => setImmediate(r));
      }
      held.release(2);
      assert.equal(await settled(tx), 'resolved');
    });

    it('answers a transaction only after the sync, and commits the next one meanwhile', async () => {
      const first = coordinator.exclusive(async () => db.prepare('INSERT INTO t VALUES (?)').run('a'));
      const second = coordinator.exclusive(async () => db.prepare('INSERT INTO t VALUES (?)').run('b'));
      while (held.calls() < 1) {
        await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setImmediate(r));
      assert.equal(count(), 2, 'the second committed while the first waited for the disk');
      assert.deepEqual([await settled(first), await settled(second)], ['pending', 'pending']);
      held.release(0);
      assert.equal(await settled(first), 'resolved');
      held.release(1);
      assert.equal(await settled(second), 'resolved');
    });

    it('refuses every write after a failed sync, and writes nothing more', async () => {
      const write = coordinator.grouped(() => db.prepare('INSERT INTO t VALUES (?)').run('a'));
      while (held.calls() < 1) {
        await new Promise((r) => setImmediate(r));
      }
      held.release(0, Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
      await assert.rejects(write, StorageSyncError);
      await assert.rejects(coordinator.grouped(() => db.prepare('INSERT INTO t VALUES (?)').run('b')), StorageSyncError);
      await assert.rejects(coordinator.exclusive(async () => db.prepare('INSERT INTO t VALUES (?)').run('c')), StorageSyncError);
      assert.equal(count(), 1);
    });
  });
});
