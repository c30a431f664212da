import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import type { StatementSync } from 'node:sqlite';
import type { SqliteStore } from '../fhir/store/sqlite-store';
import type { AuditEntry, AuditSink } from './audit-entry';

const ACTION_TO_SUBTYPE_SYSTEM = 'http://hl7.org/fhir/restful-interaction';

/**
 * The audit trail, in its own append-only table of the store's database rather than as indexed
 * FHIR resources: auditing every read must cost far less than the read. Entries go through the
 * store's group commit and the caller awaits them, so a response is never sent for an access that
 * left no durable trace. They are served back as FHIR AuditEvents (`GET /fhir/R4/AuditEvent`).
 */
export class AuditLog implements AuditSink {
  private readonly insert: StatementSync;

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
    `);
    this.insert = store.writer.prepare('INSERT INTO audit_event (id, recorded, agent, patient, content) VALUES (?, ?, ?, ?, ?)');
  }

  record(entry: AuditEntry): Promise<void> {
    const event = toAuditEvent(entry);
    // One row per patient touched, so "who saw patient X" is one indexed lookup.
    const patients = entry.patients.length ? entry.patients : [null];
    const content = JSON.stringify(event);
    return this.store.coordinator.grouped(() => {
      for (const patient of patients) {
        this.insert.run(event.id as string, event.recorded, entry.agent, patient, content);
      }
    });
  }

  /** AuditEvents newest first, optionally for one patient or agent and since a time. */
  search(query: { patient?: string; agent?: string; since?: string; count?: number }): Bundle<AuditEvent> {
    const where: string[] = [];
    const args: string[] = [];
    if (query.patient) {
      where.push('patient = ?');
      args.push(query.patient);
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
    ],
  };
}
