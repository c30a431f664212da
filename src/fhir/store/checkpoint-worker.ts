/** Worker thread of Checkpointer: WAL checkpoints on a connection of its own, off the event loop. */
import { statSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import type { CheckpointSettings, CheckpointStats } from './checkpointer';

const settings = workerData as CheckpointSettings;
const db = new DatabaseSync(settings.path);
// Never wait for the writer: a checkpoint that finds it busy does what it can and tries again.
db.exec('PRAGMA busy_timeout = 0; PRAGMA synchronous = FULL');
const passive = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const truncate = db.prepare('PRAGMA wal_checkpoint(TRUNCATE)');

const stats: CheckpointStats = { passive: 0, truncate: 0, maxWalBytes: 0 };
let lastChange = Date.now();
let lastSize = -1;
let lastMtime = 0;
/** A truncation was asked of the main thread, which pauses writes and answers 'truncate-now'. */
let truncateAsked = false;

const timer = setInterval(tick, settings.intervalMs);

parentPort?.on('message', (message: string) => {
  if (message === 'truncate-now') {
    // No write is in progress or will start until 'truncated' is answered.
    try {
      truncateWaiting(settings.maxTruncateWaitMs);
    } catch {
      // Retried on a later tick if the WAL is still over its bound.
    }
    truncateAsked = false;
    parentPort?.postMessage('truncated');
    return;
  }
  if (message === 'stop') {
    clearInterval(timer);
    db.close();
    parentPort?.postMessage(stats);
    parentPort?.close();
  }
});

function tick(): void {
  const wal = walState();
  stats.maxWalBytes = Math.max(stats.maxWalBytes, wal.size);
  if (wal.size !== lastSize || wal.mtime !== lastMtime) {
    lastChange = Date.now();
    lastSize = wal.size;
    lastMtime = wal.mtime;
  }
  try {
    if (wal.size > 0) {
      // PASSIVE copies what it can without ever making the writer wait.
      passive.get();
      stats.passive++;
    }
    if (wal.size > settings.walBoundBytes && !truncateAsked) {
      // Under back-to-back commits a PASSIVE checkpoint never catches up with the end of the WAL,
      // so the writer never gets to restart it, and a TRUNCATE waiting for a gap between commits
      // would starve. Past the bound the main thread is asked to hold writes back (queued, the
      // event loop free) while this thread truncates: back-pressure instead of an unbounded WAL.
      truncateAsked = true;
      parentPort?.postMessage('truncate-wanted');
    } else if (wal.size <= settings.walBoundBytes && wal.size > 0 && Date.now() - lastChange >= settings.idleMs) {
      // Writes have paused: give the WAL back to zero bytes, unless a writer has just started.
      truncateWaiting(0);
    }
  } catch {
    // SQLITE_BUSY or the like: the next tick tries again.
  }
}

function truncateWaiting(ms: number): void {
  db.exec(`PRAGMA busy_timeout = ${ms}`);
  try {
    const { busy } = truncate.get() as { busy: number };
    if (busy === 0) {
      stats.truncate++;
      lastSize = -1;
    }
  } finally {
    db.exec('PRAGMA busy_timeout = 0');
  }
}

function walState(): { size: number; mtime: number } {
  try {
    const s = statSync(`${settings.path}-wal`);
    return { size: s.size, mtime: s.mtimeMs };
  } catch {
    return { size: 0, mtime: 0 };
  }
}
