/**
 * The audit trail: every read, search and write of patient data leaves an AuditEvent naming who
 * acted, what they did to which resource, when, and with what outcome
 * (http://hl7.org/fhir/R4/auditevent.html), served at GET /fhir/R4/AuditEvent.
 */
import assert from 'node:assert/strict';
import type { AuditEvent, Bundle, Patient } from '@medplum/fhirtypes';
import { startTestServer, type TestServer } from '../support/test-server';
import { assertOutcome, fhirHttp, MRN, unique, type FhirHttp, type Stored } from '../support/fhir-http';

describe('GET /fhir/R4/AuditEvent', () => {
  let server: TestServer;
  let admin: FhirHttp;
  let patient: Stored<Patient>;

  before(async () => {
    server = await startTestServer();
    admin = fhirHttp(server.baseUrl, await server.adminToken());
    patient = await admin.create<Patient>({ resourceType: 'Patient', identifier: [{ system: MRN, value: unique('audited') }] });
  });

  after(async () => {
    await server.close();
  });

  const clinician = async (scopes = ['user/*.cruds']): Promise<{ fhir: FhirHttp; agent: string }> => {
    const agent = `Practitioner/${unique('doc')}`;
    return { fhir: fhirHttp(server.baseUrl, await server.token({ scopes, fhirUser: agent })), agent };
  };

  const auditEvents = async (query: string): Promise<AuditEvent[]> => {
    const res = await admin.get(`AuditEvent?${query}`);
    assert.equal(res.status, 200, res.text);
    const bundle = res.body as Bundle<AuditEvent>;
    assert.equal(bundle.resourceType, 'Bundle');
    return (bundle.entry ?? []).map((e) => e.resource as AuditEvent);
  };

  const byAgent = (events: AuditEvent[], agent: string): AuditEvent[] => events.filter((e) => e.agent?.some((a) => a.who?.reference === agent));
  const names = (event: AuditEvent, reference: string): boolean => event.entity?.some((e) => e.what?.reference === reference) ?? false;
  const subtype = (event: AuditEvent): string | undefined => event.subtype?.[0]?.code;

  const assertRecent = (event: AuditEvent, since: number): void => {
    const recorded = Date.parse(event.recorded);
    assert.ok(recorded >= since - 1000 && recorded <= Date.now() + 1000, `recorded ${event.recorded} is not the time of the request`);
  };

  it('records a read of a Patient with the agent, action R, outcome 0 and the Patient', async () => {
    const { fhir, agent } = await clinician();
    const since = Date.now();
    assert.equal((await fhir.get(`Patient/${patient.id}`)).status, 200);
    const events = byAgent(await auditEvents(`patient=Patient/${patient.id}`), agent);
    assert.equal(events.length, 1, JSON.stringify(events));
    const [event] = events;
    assert.equal(event.resourceType, 'AuditEvent');
    assert.equal(event.action, 'R');
    assert.equal(subtype(event), 'read');
    assert.equal(event.outcome, '0');
    assert.ok(names(event, `Patient/${patient.id}`));
    assertRecent(event, since);
  });

  it('records a search that returned the Patient with action E and outcome 0', async () => {
    const { fhir, agent } = await clinician();
    assert.equal((await fhir.search(`Patient?_id=${patient.id}`)).entry?.length, 1);
    const events = byAgent(await auditEvents(`patient=Patient/${patient.id}`), agent);
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal(events[0].action, 'E');
    assert.match(subtype(events[0]) ?? '', /search/);
    assert.equal(events[0].outcome, '0');
    assert.ok(names(events[0], `Patient/${patient.id}`));
  });

  it('records a search of the patient’s Observations under the patient', async () => {
    const obs = await admin.create({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${patient.id}` } });
    const { fhir, agent } = await clinician();
    assert.equal((await fhir.search(`Observation?subject=Patient/${patient.id}`)).entry?.length, 1);
    const events = byAgent(await auditEvents(`patient=Patient/${patient.id}`), agent);
    assert.equal(events.length, 1);
    assert.ok(names(events[0], `Observation/${obs.id}`));
  });

  it('records a create and an update with actions C and U', async () => {
    const { fhir, agent } = await clinician();
    const created = await fhir.create({ resourceType: 'Observation', status: 'final', code: { text: 'y' }, subject: { reference: `Patient/${patient.id}` } });
    const updated = await fhir.put(`Observation/${created.id}`, { ...created, status: 'amended' });
    assert.equal(updated.status, 200);
    const events = byAgent(await auditEvents(`patient=Patient/${patient.id}`), agent);
    assert.deepEqual(events.map((e) => e.action).sort(), ['C', 'U']);
    assert.ok(events.every((e) => e.outcome === '0' && names(e, `Observation/${created.id}`)));
  });

  it('finds a search page under each patient it returned, before and after the patients are folded into the index', async () => {
    const others = await Promise.all(
      [1, 2].map((i) => admin.create<Patient>({ resourceType: 'Patient', identifier: [{ system: MRN, value: unique(`page${i}`) }] }))
    );
    const ids = [patient.id, ...others.map((p) => p.id)];
    const { fhir, agent } = await clinician();
    assert.equal((await fhir.search(`Patient?_id=${ids.join(',')}`)).entry?.length, 3);
    const { audit, store } = server.dermbridge;
    const recentRows = (): number => (store.reader.prepare('SELECT count(*) AS n FROM audit_patient_recent').get() as { n: number }).n;
    const eventsOfEach = async (): Promise<number[]> =>
      Promise.all(ids.map(async (id) => byAgent(await auditEvents(`patient=Patient/${id}`), agent).length));
    assert.ok(recentRows() >= 3, 'appended, not yet folded');
    assert.deepEqual(await eventsOfEach(), [1, 1, 1]);
    await audit.fold();
    assert.equal(recentRows(), 0);
    assert.deepEqual(await eventsOfEach(), [1, 1, 1], 'the same event, now found through audit_patient');
    await audit.fold();
    assert.deepEqual(await eventsOfEach(), [1, 1, 1], 'a fold with nothing new changes nothing');
  });

  it('finds the events of one agent with ?agent=', async () => {
    const { fhir, agent } = await clinician();
    await fhir.get(`Patient/${patient.id}`);
    const events = await auditEvents(`agent=${encodeURIComponent(agent)}`);
    assert.equal(events.length, 1);
    assert.equal(byAgent(events, agent).length, 1);
  });

  it('records a refused read (403) with outcome 4', async () => {
    const { fhir, agent } = await clinician(['user/Observation.rs']);
    assertOutcome(await fhir.get(`Patient/${patient.id}`), 403);
    const events = await auditEvents(`agent=${encodeURIComponent(agent)}`);
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal(events[0].outcome, '4');
    assert.equal(events[0].action, 'R');
  });

  it('records which Patient a refused read (403) tried to read, findable by ?patient=', async () => {
    const { fhir, agent } = await clinician(['user/Observation.rs']);
    assertOutcome(await fhir.get(`Patient/${patient.id}`), 403);
    const [event] = await auditEvents(`agent=${encodeURIComponent(agent)}`);
    assert.ok(names(event, `Patient/${patient.id}`), `the refused read does not name Patient/${patient.id}: ${JSON.stringify(event.entity)}`);
    assert.equal(byAgent(await auditEvents(`patient=Patient/${patient.id}`), agent).length, 1);
  });

  it('records a patient-scoped read of another patient (404) with outcome 4', async () => {
    const other = await admin.create<Patient>({ resourceType: 'Patient' });
    const patientToken = await server.token({ scopes: ['patient/*.rs'], patientId: patient.id, fhirUser: `Patient/${patient.id}` });
    assertOutcome(await fhirHttp(server.baseUrl, patientToken).get(`Patient/${other.id}`), 404);
    const events = await auditEvents(`agent=Patient/${patient.id}`);
    assert.ok(events.some((e) => e.outcome === '4' && e.action === 'R'), JSON.stringify(events));
  });

  it('answers 403 to a patient-scoped token searching AuditEvent', async () => {
    const patientToken = await server.token({ scopes: ['patient/*.rs'], patientId: patient.id, fhirUser: `Patient/${patient.id}` });
    assertOutcome(await fhirHttp(server.baseUrl, patientToken).get(`AuditEvent?patient=Patient/${patient.id}`), 403);
  });

  it('answers 403 to a token without an AuditEvent scope', async () => {
    const { fhir } = await clinician(['user/Patient.rs']);
    assertOutcome(await fhir.get(`AuditEvent?patient=Patient/${patient.id}`), 403);
  });

  it('answers 401 without a token', async () => {
    assertOutcome(await fhirHttp(server.baseUrl, undefined).get('AuditEvent'), 401);
  });
});
