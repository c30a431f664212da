import type { DatabaseSync, StatementSync } from 'node:sqlite';

/** One owed bot run: a committed change (or a scheduled tick) × a subscription that matched it. */
export interface DeliveryRow {
  readonly id: number;
  readonly seq: number | null;
  readonly subscription: string | null;
  readonly bot: string;
  readonly resourceType: string | null;
  readonly resourceId: string | null;
  readonly versionId: string | null;
  readonly interaction: string;
  readonly status: 'pending' | 'dead';
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly nextAt: number;
  readonly lastError: string | null;
  readonly created: string;
  readonly updated: string;
  /** Lower runs first (RUNS_FIRST for bots that decide how soon a case is seen). */
  readonly priority: number;
}

/** Queued runs of one bot, for an operator: how many, how many failed once already, the oldest. */
export interface QueuedRuns {
  readonly bot: string;
  readonly priority: number;
  readonly runs: number;
  readonly retrying: number;
  /** When the oldest of them was queued (ISO instant). */
  readonly oldest: string;
}

export const RUNS_FIRST = 0;
export const RUNS_ORDINARY = 1;

const COLUMNS = `id, seq, subscription, bot, resource_type AS resourceType, resource_id AS resourceId, version_id AS versionId,
  interaction, status, attempts, max_attempts AS maxAttempts, next_at AS nextAt, last_error AS lastError, created, updated, priority`;

/**
 * The dispatcher's durable state, in the store's own database (like the audit log): the cursor
 * over `change_log` and the deliveries owed. Enqueuing deliveries and moving the cursor happen in
 * one transaction, so a crash between commit and dispatch loses nothing: on restart the cursor is
 * behind (the change is matched again) or the delivery row is pending (it runs again).
 */
export class DispatchTables {
  readonly selectCursor: StatementSync;
  readonly upsertCursor: StatementSync;
  readonly selectChanges: StatementSync;
  readonly insertDelivery: StatementSync;
  readonly selectDue: StatementSync;
  readonly selectNextDue: StatementSync;
  readonly deleteDelivery: StatementSync;
  readonly markFailed: StatementSync;
  readonly selectDead: StatementSync;
  readonly selectRetrying: StatementSync;
  readonly selectOne: StatementSync;
  readonly replay: StatementSync;
  readonly selectQueue: StatementSync;
  readonly countChangesAfter: StatementSync;

  constructor(writer: DatabaseSync, reader: DatabaseSync) {
    writer.exec(`
      CREATE TABLE IF NOT EXISTS bot_cursor (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS bot_delivery (
        id INTEGER PRIMARY KEY,
        seq INTEGER,
        subscription TEXT,
        bot TEXT NOT NULL,
        resource_type TEXT,
        resource_id TEXT,
        version_id TEXT,
        interaction TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        next_at INTEGER NOT NULL,
        last_error TEXT,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        priority INTEGER NOT NULL DEFAULT 1,
        UNIQUE (seq, subscription)
      );
      CREATE INDEX IF NOT EXISTS bot_delivery_due ON bot_delivery (status, next_at);
    `);
    // Stores created before runs had a priority: every queued run keeps the ordinary one.
    const columns = writer.prepare('PRAGMA table_info(bot_delivery)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'priority')) {
      writer.exec('ALTER TABLE bot_delivery ADD COLUMN priority INTEGER NOT NULL DEFAULT 1');
    }
    this.selectCursor = writer.prepare('SELECT value FROM bot_cursor WHERE name = ?');
    this.upsertCursor = writer.prepare('INSERT INTO bot_cursor (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value');
    this.selectChanges = reader.prepare(
      'SELECT seq, type AS resourceType, id, version_id AS versionId, interaction FROM change_log WHERE seq > ? ORDER BY seq LIMIT ?'
    );
    this.insertDelivery = writer.prepare(`INSERT OR IGNORE INTO bot_delivery
      (seq, subscription, bot, resource_type, resource_id, version_id, interaction, status, attempts, max_attempts, next_at, created, updated, priority)
      VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?)`);
    this.selectDue = writer.prepare(`SELECT ${COLUMNS} FROM bot_delivery WHERE status = 'pending' AND next_at <= ? ORDER BY priority, id LIMIT ?`);
    this.selectNextDue = writer.prepare(`SELECT MIN(next_at) AS nextAt FROM bot_delivery WHERE status = 'pending'`);
    this.deleteDelivery = writer.prepare('DELETE FROM bot_delivery WHERE id = ?');
    this.markFailed = writer.prepare('UPDATE bot_delivery SET status = ?, attempts = ?, next_at = ?, last_error = ?, updated = ? WHERE id = ?');
    this.selectDead = writer.prepare(`SELECT ${COLUMNS} FROM bot_delivery WHERE status = 'dead' ORDER BY id LIMIT ?`);
    this.selectRetrying = writer.prepare(`SELECT ${COLUMNS} FROM bot_delivery WHERE status = 'pending' AND attempts > 0 ORDER BY id LIMIT ?`);
    this.selectOne = writer.prepare(`SELECT ${COLUMNS} FROM bot_delivery WHERE id = ?`);
    this.selectQueue = writer.prepare(
      `SELECT bot, priority, count(*) AS runs, sum(attempts > 0) AS retrying, min(created) AS oldest FROM bot_delivery
       WHERE status = 'pending' GROUP BY bot, priority ORDER BY priority, bot`
    );
    // Only changes that can owe a run (a watched type, not a delete; `?2` a JSON array of types, or
    // NULL before the subscriptions are known): the dispatcher skips the others without moving
    // its cursor, and an operator must not see a bulk import of them as bots falling behind.
    this.countChangesAfter = writer.prepare(
      `SELECT count(*) AS n FROM change_log WHERE seq > ?1 AND interaction <> 'delete' AND (?2 IS NULL OR type IN (SELECT value FROM json_each(?2)))`
    );
    this.replay = writer.prepare(`UPDATE bot_delivery SET status = 'pending', attempts = 0, next_at = ?, updated = ? WHERE id = ? AND status = 'dead'`);
  }
}
