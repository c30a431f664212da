import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import type { StatementSync } from 'node:sqlite';
import type { SqliteStore } from '../fhir/store/sqlite-store';
import type { AuditEntry, AuditSink } from './audit-entry';

const ACTION_TO_SUBTYPE_SYSTEM = 'http://hl7.org/fhir/restful-interaction';
const FOLD_INTERVAL_MS = 500;

/**
 * The audit trail, in its own append-only table of the store's database rather than as indexed
 * FHIR resources: auditing every read must cost far less than the read. Entries go through the
 * store's group commit and the caller awaits them, so a response is never sent for an access that
 * left no durable trace. They are served back as FHIR AuditEvents (`GET /fhir/R4/AuditEvent`).
 */
export class AuditLog implements AuditSink {
  private readonly insert: StatementSync;
  private readonly insertPatient: StatementSync;
  private readonly insertRecent: StatementSync;
  private readonly foldRecent: StatementSync;
  private readonly clearRecent: StatementSync;
  private readonly folder: NodeJS.Timeout;
  /** Rows may be waiting in audit_patient_recent (true at start: a previous run may have left some). */
  private unfolded = true;
  private folding = false;

  constructor(private readonly store: SqliteStore) {
    store.writer.exec(`
      CREATE TABLE IF NOT EXISTS audit_event (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        recorded TEXT NOT NULL,
        agent TEXT NOT NULL,
        patient TEXT,
        content TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS audit_event_patient ON audit_event (patient, seq);
      CREATE INDEX IF NOT EXISTS audit_event_agent ON audit_event (agent, seq);
      CREATE INDEX IF NOT EXISTS audit_event_recorded ON audit_event (recorded);
      -- Patients of an event that touched many (a bulk import batch): the event is stored once,
      -- and "who touched patient X" stays one indexed lookup here.
      CREATE TABLE IF NOT EXISTS audit_patient (
        patient TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (patient, seq)
      ) WITHOUT ROWID;
      -- The patients of the latest events, appended in commit order and folded into audit_patient
      -- every half second (see fold()).
      CREATE TABLE IF NOT EXISTS audit_patient_recent (patient TEXT NOT NULL, seq INTEGER NOT NULL);
    `);
    this.insert = store.writer.prepare('INSERT INTO audit_event (id, recorded, agent, patient, content) VALUES (?, ?, ?, ?, ?)');
    this.insertPatient = store.writer.prepare('INSERT INTO audit_patient (patient, seq) VALUES (?, ?)');
    this.insertRecent = store.writer.prepare('INSERT INTO audit_patient_recent (patient, seq) VALUES (?, ?)');
    this.foldRecent = store.writer.prepare(
      'INSERT OR IGNORE INTO audit_patient (patient, seq) SELECT patient, seq FROM audit_patient_recent ORDER BY patient, seq'
    );
    this.clearRecent = store.writer.prepare('DELETE FROM audit_patient_recent');
    this.folder = setInterval(() => this.fold(), FOLD_INTERVAL_MS);
    this.folder.unref();
  }

  /** Stops folding (before the store closes); what is still recent stays searchable and is folded at the next start. */
  stop(): void {
    clearInterval(this.folder);
  }

  /**
   * Records an access inside the write transaction in progress (synchronous), so the entry
   * commits or rolls back with the data it describes: one row for the event, one small row per
   * patient. For events touching many resources and patients (a bulk import batch).
   */
  recordInTransaction(entry: AuditEntry): void {
    if (!this.store.writer.isTransaction) {
      throw new Error('recordInTransaction needs a write transaction in progress');
    }
    const event = toAuditEvent(entry);
    const seq = Number(this.insert.run(event.id as string, event.recorded, entry.agent, null, JSON.stringify(event)).lastInsertRowid);
    for (const patient of new Set(entry.patients)) {
      this.insertPatient.run(patient, seq);
    }
  }

  record(entry: AuditEntry): Promise<void> {
    const event = toAuditEvent(entry);
    const content = JSON.stringify(event);
    const patients = [...new Set(entry.patients)];
    // The event is stored once: a search page touching 50 patients used to store its JSON 50
    // times. Its patients are appended to audit_patient_recent rather than inserted into the
    // (patient, seq) index: fifty patients are fifty random pages of that index, each copied to
    // the WAL at every commit (a review-queue page spent as long committing its audit as running
    // its query). Appended, they fill one page; fold() moves them over in patient order.
    return this.store.coordinator.grouped(() => {
      const seq = Number(this.insert.run(event.id as string, event.recorded, entry.agent, null, content).lastInsertRowid);
      for (const patient of patients) {
        this.insertRecent.run(patient, seq);
      }
      this.unfolded ||= patients.length > 0;
    });
  }

  /**
   * Moves the recent patients into audit_patient, sorted, in one grouped write: a page of the
   * index is written once per fold for all the events that touched it. Runs every half second
   * when there is something to fold; searches read both tables, so nothing is ever unfindable.
   */
  fold(): Promise<void> {
    if (!this.unfolded || this.folding) {
      return Promise.resolve();
    }
    this.unfolded = false;
    this.folding = true;
    return this.store.coordinator
      .grouped(() => {
        this.foldRecent.run();
        this.clearRecent.run();
      })
      .catch(() => {
        // The rows stay in audit_patient_recent, where searches find them; the next fold retries.
        this.unfolded = true;
      })
      .finally(() => {
        this.folding = false;
      });
  }

  /** AuditEvents newest first, optionally for one patient or agent and since a time. */
  search(query: { patient?: string; agent?: string; since?: string; count?: number }): Bundle<AuditEvent> {
    const where: string[] = [];
    const args: string[] = [];
    if (query.patient) {
      // `patient = ?`: events recorded before the recent table existed kept one patient on the row.
      where.push('(patient = ? OR seq IN (SELECT seq FROM audit_patient WHERE patient = ?) OR seq IN (SELECT seq FROM audit_patient_recent WHERE patient = ?))');
      args.push(query.patient, query.patient, query.patient);
    }
    if (query.agent) {
      where.push('agent = ?');
      args.push(query.agent);
    }
    if (query.since) {
      where.push('recorded >= ?');
      args.push(query.since);
    }
    const sql =
      'SELECT DISTINCT id, content FROM audit_event' +
      (where.length ? ' WHERE ' + where.join(' AND ') : '') +
      ' ORDER BY seq DESC LIMIT ?';
    const rows = this.store.reader.prepare(sql).all(...args, Math.min(query.count ?? 100, 1000)) as { content: string }[];
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: rows.map((r) => ({ resource: JSON.parse(r.content) as AuditEvent })),
    };
  }
}

/** Maps an entry to FHIR AuditEvent (http://hl7.org/fhir/R4/auditevent.html), REST subtype per the restful-interaction code system. */
export function toAuditEvent(entry: AuditEntry): AuditEvent {
  return {
    resourceType: 'AuditEvent',
    id: randomUUID(),
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
    subtype: [{ system: ACTION_TO_SUBTYPE_SYSTEM, code: entry.interaction }],
    action: entry.action,
    recorded: new Date().toISOString(),
    outcome: entry.outcome,
    outcomeDesc: entry.outcomeDesc,
    agent: [
      {
        who: { reference: entry.agent },
        requestor: true,
        altId: entry.clientId,
        network: entry.sourceAddress ? { address: entry.sourceAddress, type: '2' } : undefined,
      },
    ],
    source: { observer: { display: 'dermbridge' }, site: entry.tokenId },
    entity: [
      ...entry.entities.map((reference) => ({ what: { reference } })),
      ...entry.patients.map((reference) => ({ what: { reference }, role: { code: '1', display: 'Patient' } })),
      ...(entry.query ? [{ query: Buffer.from(entry.query).toString('base64') }] : []),
      ...(entry.dataSet
        ? [{ type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' }, name: entry.dataSet.name, description: entry.dataSet.description }]
        : []),
    ],
  };
}
