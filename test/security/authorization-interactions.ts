/**
 * Every FHIR interaction the matrix probes, each aimed at patient A's data and each reporting a
 * verdict: `allow` (the principal got or changed A's data), 401, 403, or `hidden` (404, or a 2xx
 * that carries nothing of A). A denied write also proves that nothing was stored or changed; if
 * something was, the verdict says so and the matrix fails.
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import request from 'supertest';
import { MRN, unique } from '../support/fhir-http';
import { observationOf, type Principal, type World } from './authorization-fixture';

export type Verdict = 'allow' | 'hidden' | 401 | 403;

export interface Probe {
  /** A Verdict, or a sentence describing something no row of the table allows (a 5xx, a half-stored write). */
  readonly verdict: Verdict | string;
  readonly status: number;
  readonly text: string;
  /** What the request itself named (path and body): markers the principal already knew. */
  readonly sent: string;
  /** The id the request targeted, replaced by `<id>` when comparing with a request for a missing id. */
  readonly targetId?: string;
}

export interface Interaction {
  readonly name: string;
  run(world: World, principal: Principal): Promise<Probe>;
  /** The same request for an id that does not exist (id-targeted interactions only). */
  missing?(world: World, principal: Principal): Promise<Probe>;
}

type Evidence = (body: any, res: request.Response) => boolean;

function classify(res: request.Response, evidence: Evidence): Verdict | string {
  if (res.status === 401 || res.status === 403) {
    return res.status;
  }
  if (res.status === 404) {
    return 'hidden';
  }
  if (res.status >= 200 && res.status < 300) {
    return evidence(res.body, res) ? 'allow' : 'hidden';
  }
  return `unexpected ${res.status}: ${res.text.slice(0, 200)}`;
}

const probe = (res: request.Response, evidence: Evidence, sent: string, targetId?: string): Probe => ({
  verdict: classify(res, evidence),
  status: res.status,
  text: res.text,
  sent,
  targetId,
});

const entries = (body: any): Resource[] => ((body as Bundle)?.entry ?? []).map((e) => e.resource).filter((r): r is Resource => Boolean(r));
const has = (body: any, type: string, id: string): boolean => entries(body).some((r) => r.resourceType === type && r.id === id);
const isResource = (type: string, id: string): Evidence => (body) => body?.resourceType === type && body?.id === id;

/** A read-like GET of `path(world, id)`; `missing` repeats it with a random id. */
function getById(name: string, path: (w: World, id: string) => string, target: (w: World) => string, evidence: (w: World, id: string) => Evidence): Interaction {
  const run = async (w: World, p: Principal, id: string): Promise<Probe> => {
    const url = path(w, id);
    return probe(await w.client(p).get(url), evidence(w, id), url, id);
  };
  return { name, run: (w, p) => run(w, p, target(w)), missing: (w, p) => run(w, p, randomUUID()) };
}

function search(name: string, query: (w: World) => string, evidence: (w: World) => Evidence): Interaction {
  return {
    name,
    run: async (w, p) => {
      const url = query(w);
      return probe(await w.client(p).get(url), evidence(w), url);
    },
  };
}

async function countMarker(w: World, marker: string): Promise<number> {
  return (await w.admin.search(`Observation?identifier=${encodeURIComponent(`${MRN}|${marker}`)}`)).entry?.length ?? 0;
}

/** A write to an existing Observation of A: allowed means it changed; otherwise it must be unchanged. */
function writeExisting(name: string, send: (w: World, p: Principal, id: string) => Promise<{ res: request.Response; sent: string }>, changed: (after: request.Response) => boolean): Interaction {
  const run = async (w: World, p: Principal, id: string, existing: boolean): Promise<Probe> => {
    const before = existing ? await w.admin.get(`Observation/${id}`) : undefined;
    const { res, sent } = await send(w, p, id);
    const after = await w.admin.get(`Observation/${id}`);
    const result = probe(res, () => changed(after), sent, id);
    if (result.verdict !== 'allow') {
      const untouched = existing ? after.status === 200 && after.body.meta?.versionId === before?.body.meta?.versionId : after.status === 404;
      if (!untouched) {
        return { ...result, verdict: `refused (${res.status}) yet the store changed: ${after.status} ${after.text.slice(0, 120)}` };
      }
    }
    return result;
  };
  return {
    name,
    run: async (w, p) => run(w, p, (await w.observationOfA()).id, true),
    missing: (w, p) => run(w, p, randomUUID(), false),
  };
}

/** A create of an Observation about A, directly or as a transaction entry. */
function createAboutA(name: string, send: (w: World, p: Principal, body: object) => Promise<request.Response>): Interaction {
  return {
    name,
    run: async (w, p) => {
      const marker = unique('create');
      const body = { ...observationOf(w.patientA, 'new finding'), identifier: [{ system: MRN, value: marker }] };
      const res = await send(w, p, body);
      const stored = await countMarker(w, marker);
      const result = probe(res, () => stored === 1, JSON.stringify(body));
      return result.verdict !== 'allow' && stored !== 0 ? { ...result, verdict: `refused (${res.status}) yet stored ${stored}` } : result;
    },
  };
}

const graphql = (w: World, p: Principal, query: string) => w.client(p).post('$graphql', { query });

/** GraphQL answers 200 with `errors`; map them onto the same verdicts. */
function graphqlProbe(res: request.Response, evidence: Evidence, sent: string, targetId?: string): Probe {
  const message = String(res.body?.errors?.[0]?.message ?? '');
  if (res.status === 200 && /forbidden/i.test(message)) {
    return { verdict: 403, status: 403, text: res.text, sent, targetId };
  }
  return probe(res, evidence, sent, targetId);
}

function graphqlRead(): Interaction {
  const run = async (w: World, p: Principal, id: string): Promise<Probe> => {
    const query = `{ Observation(id: "${id}") { id code { text } subject { reference } } }`;
    return graphqlProbe(await graphql(w, p, query), (body) => body?.data?.Observation?.id === id, query, id);
  };
  return { name: 'GraphQL read', run: (w, p) => run(w, p, w.observationA.id), missing: (w, p) => run(w, p, randomUUID()) };
}

export const INTERACTIONS: readonly Interaction[] = [
  getById('read Patient', (_w, id) => `Patient/${id}`, (w) => w.patientA.id, (_w, id) => isResource('Patient', id)),
  getById('read Observation', (_w, id) => `Observation/${id}`, (w) => w.observationA.id, (_w, id) => isResource('Observation', id)),
  getById('vread Observation', (w, id) => `Observation/${id}/_history/${w.observationA.meta.versionId}`, (w) => w.observationA.id, (_w, id) => isResource('Observation', id)),
  getById('history Observation', (_w, id) => `Observation/${id}/_history`, (w) => w.observationA.id, (_w, id) => (body) => has(body, 'Observation', id)),
  search('search Patient', () => 'Patient', (w) => (body) => has(body, 'Patient', w.patientA.id)),
  search('search Observation', () => 'Observation', (w) => (body) => has(body, 'Observation', w.observationA.id)),
  search('search Observation by subject', (w) => `Observation?subject=Patient/${w.patientA.id}`, (w) => (body) => has(body, 'Observation', w.observationA.id)),
  search('system search _type', () => '?_type=Patient,Observation', (w) => (body) => has(body, 'Patient', w.patientA.id)),
  {
    name: 'search via POST _search',
    run: async (w, p) => {
      const res = await w.client(p).post('Observation/_search', `_id=${w.observationA.id}`, { 'Content-Type': 'application/x-www-form-urlencoded' });
      return probe(res, (body) => has(body, 'Observation', w.observationA.id), `_id=${w.observationA.id}`);
    },
  },
  createAboutA('create Observation', (w, p, body) => w.client(p).post('Observation', body)),
  writeExisting(
    'update Observation',
    async (w, p, id) => {
      const body = { ...observationOf(w.patientA, 'amended'), id, status: 'amended' };
      return { res: await w.client(p).put(`Observation/${id}`, body), sent: JSON.stringify(body) + id };
    },
    (after) => after.body.status === 'amended'
  ),
  writeExisting(
    'patch Observation',
    async (w, p, id) => ({ res: await w.client(p).patch(`Observation/${id}`, [{ op: 'replace', path: '/status', value: 'amended' }]), sent: id }),
    (after) => after.body.status === 'amended'
  ),
  writeExisting('delete Observation', async (w, p, id) => ({ res: await w.client(p).delete(`Observation/${id}`), sent: id }), (after) => after.status === 410 || after.status === 404),
  createAboutA('transaction entry (create)', (w, p, body) =>
    w.client(p).post('', { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'POST', url: 'Observation' }, resource: body }] })
  ),
  {
    name: 'batch entry (read)',
    run: async (w, p) => batchRead(w, p, w.observationA.id),
    missing: async (w, p) => batchRead(w, p, randomUUID()),
  },
  search('_include', (w) => `Observation?_id=${w.observationA.id},${w.observationB.id},${w.observationC.id}&_include=Observation:subject`, (w) => (body) => has(body, 'Patient', w.patientA.id)),
  search('_revinclude', () => 'Patient?_revinclude=Observation:subject', (w) => (body) => has(body, 'Observation', w.observationA.id)),
  search('chained search', (w) => `Observation?subject:Patient.family=${w.markersOfA[1]}`, (w) => (body) => has(body, 'Observation', w.observationA.id)),
  graphqlRead(),
  {
    name: 'GraphQL search',
    run: async (w, p) => {
      const query = `{ ObservationList(subject: "Patient/${w.patientA.id}") { id } }`;
      const res = await graphql(w, p, query);
      return graphqlProbe(res, (body) => (body?.data?.ObservationList ?? []).some((o: { id: string }) => o.id === w.observationA.id), query);
    },
  },
  {
    name: 'Binary raw download',
    run: (w, p) => rawBinary(w, p, w.binaryA.id),
    missing: (w, p) => rawBinary(w, p, randomUUID()),
  },
  search('AuditEvent search', (w) => `AuditEvent?patient=Patient/${w.patientA.id}`, () => (body) => (body?.entry?.length ?? 0) > 0),
];

async function batchRead(w: World, p: Principal, id: string): Promise<Probe> {
  const bundle = { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: `Observation/${id}` } }] };
  const res = await w.client(p).post('', bundle);
  const entry = (res.body as Bundle)?.entry?.[0];
  const entryStatus = Number(entry?.response?.status?.split(' ')[0]);
  if (res.status === 200 && entryStatus >= 400) {
    // The batch itself succeeded; the entry's own status is the answer.
    const verdict = entryStatus === 404 ? 'hidden' : entryStatus === 403 ? 403 : `unexpected entry ${entryStatus}`;
    return { verdict, status: entryStatus, text: JSON.stringify({ ...res.body, id: undefined, meta: undefined }), sent: id, targetId: id };
  }
  return probe(res, () => entry?.resource?.id === id, id, id);
}

async function rawBinary(w: World, p: Principal, id: string): Promise<Probe> {
  const token = w.tokens[p];
  const req = request(w.server.baseUrl.replace(/\/$/, '')).get(`/fhir/R4/Binary/${id}`).set('Accept', 'image/jpeg');
  const res = await (token ? req.set('Authorization', `Bearer ${token}`) : req).buffer(true).parse((r, done) => {
    const chunks: Buffer[] = [];
    r.on('data', (c: Buffer) => chunks.push(c));
    r.on('end', () => done(null, Buffer.concat(chunks)));
  });
  const bytes = res.body as Buffer;
  const text = res.status === 200 ? bytes.toString('latin1') : bytes.toString('utf8');
  return { ...probe(res, () => bytes.equals(w.photoA), id, id), text };
}
