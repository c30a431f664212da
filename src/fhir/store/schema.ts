import type { DatabaseSync } from 'node:sqlite';

/**
 * The store's tables. One row per resource (current version) plus full history; one index table
 * per search-parameter kind, keyed by a small integer parameter id so rows stay narrow (the HAPI
 * JPA layout, see docs/adr/0001-embedded-store.md). `change_log` is the durable outbox that
 * subscriptions and incremental sync read; it is written in the same transaction as the change.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE resource (
    rid INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version_id TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    content TEXT NOT NULL,
    UNIQUE (type, id)
  );
  CREATE INDEX resource_type_updated ON resource (type, last_updated);

  CREATE TABLE resource_version (
    seq INTEGER PRIMARY KEY,
    rid INTEGER NOT NULL,
    version_id TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    content TEXT
  );
  CREATE UNIQUE INDEX resource_version_rid ON resource_version (rid, version_id);

  CREATE TABLE binary_content (
    rid INTEGER NOT NULL,
    version_id TEXT NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (rid, version_id)
  ) WITHOUT ROWID;

  CREATE TABLE search_param (
    pid INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    code TEXT NOT NULL,
    UNIQUE (type, code)
  );

  CREATE TABLE ix_token (pid INTEGER NOT NULL, value TEXT, system TEXT, rid INTEGER NOT NULL);
  CREATE INDEX ix_token_lookup ON ix_token (pid, value, system, rid);
  CREATE INDEX ix_token_rid ON ix_token (rid);

  CREATE TABLE ix_string (pid INTEGER NOT NULL, norm TEXT NOT NULL, raw TEXT NOT NULL, rid INTEGER NOT NULL);
  CREATE INDEX ix_string_lookup ON ix_string (pid, norm, rid);
  CREATE INDEX ix_string_rid ON ix_string (rid);

  CREATE TABLE ix_reference (pid INTEGER NOT NULL, ref TEXT NOT NULL, ref_id TEXT NOT NULL, rid INTEGER NOT NULL);
  CREATE INDEX ix_reference_lookup ON ix_reference (pid, ref, rid);
  CREATE INDEX ix_reference_id ON ix_reference (pid, ref_id, rid);
  CREATE INDEX ix_reference_rid ON ix_reference (rid);

  CREATE TABLE ix_date (pid INTEGER NOT NULL, lo TEXT NOT NULL, hi TEXT NOT NULL, rid INTEGER NOT NULL);
  CREATE INDEX ix_date_lo ON ix_date (pid, lo, rid);
  CREATE INDEX ix_date_hi ON ix_date (pid, hi, rid);
  CREATE INDEX ix_date_rid ON ix_date (rid);

  CREATE TABLE ix_number (pid INTEGER NOT NULL, lo REAL, hi REAL, system TEXT, unit TEXT, rid INTEGER NOT NULL);
  CREATE INDEX ix_number_lo ON ix_number (pid, lo, rid);
  CREATE INDEX ix_number_rid ON ix_number (rid);

  CREATE TABLE ix_uri (pid INTEGER NOT NULL, value TEXT NOT NULL, rid INTEGER NOT NULL);
  CREATE INDEX ix_uri_lookup ON ix_uri (pid, value, rid);
  CREATE INDEX ix_uri_rid ON ix_uri (rid);

  CREATE TABLE change_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version_id TEXT NOT NULL,
    interaction TEXT NOT NULL,
    at TEXT NOT NULL
  );
  `,
  // Sort keys are looked up per candidate row: (rid, pid) first makes each lookup one index probe.
  `
  CREATE INDEX ix_number_sort ON ix_number (rid, pid, lo);
  CREATE INDEX ix_date_sort ON ix_date (rid, pid, lo, hi);
  CREATE INDEX ix_token_sort ON ix_token (rid, pid, value);
  CREATE INDEX ix_string_sort ON ix_string (rid, pid, norm);
  DROP INDEX ix_number_rid;
  DROP INDEX ix_date_rid;
  DROP INDEX ix_token_rid;
  DROP INDEX ix_string_rid;
  `,
  // Composite search indexes (composite-index.ts): rows kept by a trigger that is created, with a
  // back-fill, when an index is first declared; each gets its own partial index to walk.
  `
  CREATE TABLE composite_index (cid INTEGER PRIMARY KEY, spec TEXT NOT NULL UNIQUE);
  CREATE TABLE ix_composite (
    cid INTEGER NOT NULL, a TEXT NOT NULL, b TEXT NOT NULL, k1, k2, k3, rid INTEGER NOT NULL,
    PRIMARY KEY (cid, rid, a, b)
  ) WITHOUT ROWID;
  `,
  // Binary content moved to files (binary-files.ts; the rows of binary_content are moved out at
  // open, binary-migration.ts). Uploads waiting for the Media that claims them (pending-uploads.ts).
  `
  CREATE TABLE binary_pending (id TEXT PRIMARY KEY, since TEXT NOT NULL) WITHOUT ROWID;
  CREATE INDEX binary_pending_since ON binary_pending (since);
  `,
];

/**
 * Brings the database to the current schema version (or `target`, for tests of an older store);
 * each migration runs once, in a transaction.
 */
export function migrate(db: DatabaseSync, target = MIGRATIONS.length): void {
  const row = db.prepare('PRAGMA user_version').get() as { user_version: number };
  for (let v = row.user_version; v < target; v++) {
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(MIGRATIONS[v]);
      db.exec(`PRAGMA user_version = ${v + 1}`);
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  }
}
