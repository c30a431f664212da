import type { DatabaseSync } from 'node:sqlite';
import type { DurabilityBarrier } from './durability-barrier';

interface PendingWrite {
  readonly op: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
}

/**
 * Owns the single writer connection. SQLite allows one writer; instead of making callers wait
 * for a lock per statement, writes are serialized here:
 * - `grouped(op)`: a synchronous single-resource write. Writes that arrive in the same turn of the
 *   event loop are committed together in one transaction (group commit: one fsync for many
 *   writes), each inside its own SAVEPOINT so one failing write does not undo the others. The
 *   promise settles only after the WAL holding the COMMIT is synced (the durability barrier, off
 *   the event loop): a 2xx is never sent for a write that a crash could lose.
 * - `exclusive(fn)`: a multi-step async transaction (transaction bundles, conditional writes);
 *   everything `fn` does commits or rolls back as one.
 */
export class WriteCoordinator {
  private tail: Promise<unknown> = Promise.resolve();
  private pending: PendingWrite[] = [];
  private flushQueued = false;
  private afterCommitHooks: (() => void)[] = [];
  private afterRollbackHooks: (() => void)[] = [];
  private beforeCommitChecks: (() => void)[] = [];
  private exclusiveDepth = 0;

  /** `barrier`: absent for an in-memory store, where COMMIT is all there is. */
  constructor(
    private readonly db: DatabaseSync,
    private readonly barrier?: DurabilityBarrier
  ) {}

  grouped<T>(op: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ op, resolve: resolve as (value: unknown) => void, reject });
      if (!this.flushQueued) {
        this.flushQueued = true;
        // The batch takes its place in line now (first come, first served with transactions).
        // When its turn comes while the WAL is being synced, it waits for that sync to end and
        // keeps growing meanwhile: a write committed earlier would wait for the next sync anyway,
        // and under read load (an audit row per read) that doubled the writes per COMMIT, each
        // COMMIT being most of the cost of the reads it audits. setImmediate lets every request
        // already read from the sockets in this poll phase enqueue its write before the cut.
        this.chain(
          () =>
            new Promise<void>((done) => {
              const cut = (): void => void setImmediate(() => done(this.flush()));
              if (this.barrier) {
                this.barrier.whenSyncEnds(cut);
              } else {
                cut();
              }
            })
        );
      }
    });
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const committed = this.chain(async () => {
      this.barrier?.assertWritable();
      this.db.exec('BEGIN IMMEDIATE');
      this.exclusiveDepth++;
      let result: T;
      try {
        result = await fn();
        for (const check of this.beforeCommitChecks.splice(0)) {
          check();
        }
      } catch (err) {
        this.rollback();
        throw err;
      } finally {
        this.exclusiveDepth--;
      }
      try {
        this.commit();
      } catch (err) {
        // A failed COMMIT (I/O error) leaves nothing committed: undo, content files included.
        this.rollback();
        throw err;
      }
      return result;
    });
    // Outside the chain: the next transaction commits while this one's WAL frames reach the disk.
    return this.barrier ? committed.then(async (result) => (await this.barrier?.committed(), result)) : committed;
  }

  /**
   * Runs `fn` between transactions, with every later write queued behind it: the checkpoint
   * thread truncates an oversized WAL in such a pause (the event loop stays free meanwhile).
   */
  paused<T>(fn: () => Promise<T>): Promise<T> {
    return this.chain(fn);
  }

  /** True inside `exclusive`: checks that need the whole transaction (references) wait for its end. */
  get inExclusive(): boolean {
    return this.exclusiveDepth > 0;
  }

  /** Runs `check` just before the current exclusive transaction commits; a throw rolls it back. */
  beforeCommit(check: () => void): void {
    this.beforeCommitChecks.push(check);
  }

  /** Runs `hook` once the current transaction has committed (dropped if it rolls back). */
  afterCommit(hook: () => void): void {
    this.afterCommitHooks.push(hook);
  }

  /**
   * Runs `hook` if the write that registers it is undone: the whole transaction rolls back, or
   * the SAVEPOINT it was registered in (dropped if it commits). Content files written before the
   * COMMIT that references them are removed this way.
   */
  afterRollback(hook: () => void): void {
    this.afterRollbackHooks.push(hook);
  }

  /** Position in the hooks, taken before a nested SAVEPOINT. */
  hookMark(): HookMark {
    return { commit: this.afterCommitHooks.length, rollback: this.afterRollbackHooks.length };
  }

  /** The SAVEPOINT taken at `mark` rolled back: its commit hooks are dropped, its rollback hooks run. */
  truncateHooks(mark: HookMark): void {
    this.afterCommitHooks.length = mark.commit;
    runAll(this.afterRollbackHooks.splice(mark.rollback));
  }

  /** Resolves once every write queued so far has settled. */
  async drain(): Promise<void> {
    await this.tail;
  }

  private chain<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private flush(): void {
    this.flushQueued = false;
    const batch = this.pending;
    this.pending = [];
    const results: { ok: boolean; value: unknown }[] = [];
    try {
      this.barrier?.assertWritable();
      this.db.exec('BEGIN IMMEDIATE');
      for (const write of batch) {
        this.db.exec('SAVEPOINT grouped_write');
        const mark = this.hookMark();
        try {
          results.push({ ok: true, value: write.op() });
          this.db.exec('RELEASE grouped_write');
        } catch (err) {
          this.truncateHooks(mark);
          this.db.exec('ROLLBACK TO grouped_write');
          this.db.exec('RELEASE grouped_write');
          results.push({ ok: false, value: err });
        }
      }
      this.commit();
    } catch (err) {
      this.rollback();
      for (const write of batch) {
        write.reject(err);
      }
      return;
    }
    const settle = (): void => batch.forEach((write, i) => (results[i].ok ? write.resolve(results[i].value) : write.reject(results[i].value)));
    if (!this.barrier) {
      settle();
      return;
    }
    this.barrier.committed().then(settle, (err: unknown) => {
      for (const write of batch) {
        write.reject(err);
      }
    });
  }

  private commit(): void {
    this.db.exec('COMMIT');
    this.afterRollbackHooks = [];
    const hooks = this.afterCommitHooks;
    this.afterCommitHooks = [];
    for (const hook of hooks) {
      hook();
    }
  }

  private rollback(): void {
    this.afterCommitHooks = [];
    this.beforeCommitChecks = [];
    const undo = this.afterRollbackHooks;
    this.afterRollbackHooks = [];
    try {
      if (this.db.isTransaction) {
        this.db.exec('ROLLBACK');
      }
    } finally {
      runAll(undo);
    }
  }
}

export interface HookMark {
  readonly commit: number;
  readonly rollback: number;
}

/** Every hook runs even if one throws (a file that cannot be removed is left to the start-up sweep). */
function runAll(hooks: readonly (() => void)[]): void {
  for (const hook of hooks) {
    try {
      hook();
    } catch {
      // Nothing references the file; the next start-up sweep removes it.
    }
  }
}
