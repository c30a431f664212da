/**
 * Patient A must not infer anything of patient B, beyond the matrix's direct interactions: no
 * oracle in chained searches over A's own references, counts, conditional interactions,
 * GraphQL reference resolution or reference checks on write. In each probe, B's real value or id
 * and a value or id that does not exist must give A the same answer.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Bundle, Observation } from '@medplum/fhirtypes';
import { MRN, unique, type FhirHttp, type Stored } from '../support/fhir-http';
import { startTestServer, type TestServer } from '../support/test-server';
import { buildWorld, CODE_SYSTEM, observationOf, type World } from './authorization-fixture';

describe('patient A learns nothing of patient B', () => {
  let server: TestServer;
  let world: World;
  let asA: FhirHttp;
  /** A's own panel listing B's Observation as a member (a clinician linked them by mistake). */
  let panelA: Stored<Observation>;
  let codeOfB: string;
  let identifierOfB: string;

  before(async () => {
    server = await startTestServer({}, { writeRateLimit: { limit: 100_000, windowMs: 60_000 } });
    world = await buildWorld(server);
    asA = world.client('patientA');
    panelA = await world.admin.create(observationOf(world.patientA, 'panel', { hasMember: [{ reference: `Observation/${world.observationB.id}` }] }));
    codeOfB = world.observationB.code.coding?.[0].code as string;
    identifierOfB = world.observationB.identifier?.[0].value as string;
  });

  after(async () => {
    await server.close();
  });

  const ids = (bundle: Bundle): string[] => (bundle.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`).sort();

  it('a chained search through A’s own reference to B’s Observation does not reveal B’s code', async () => {
    const withB = await asA.search(`Observation?has-member:Observation.code=${CODE_SYSTEM}|${codeOfB}`);
    const withMissing = await asA.search(`Observation?has-member:Observation.code=${CODE_SYSTEM}|${unique('nothing')}`);
    assert.deepEqual(ids(withB), ids(withMissing), 'the chain matched on B’s data');
  });

  it('a chained search through A’s own reference does not reveal B’s identity', async () => {
    const withB = await asA.search(`Observation?has-member:Observation.subject=Patient/${world.patientB.id}`);
    const withMissing = await asA.search(`Observation?has-member:Observation.subject=Patient/${randomUUID()}`);
    assert.deepEqual(ids(withB), ids(withMissing), 'the chain matched on B’s data');
  });

  it('_include of A’s panel members and _include:iterate never return B’s Observation', async () => {
    const included = await asA.search(`Observation?_id=${panelA.id}&_include=Observation:has-member`);
    const iterated = await asA.search(`Observation?_id=${panelA.id}&_include:iterate=Observation:has-member&_include:iterate=Observation:subject`);
    for (const bundle of [included, iterated]) {
      assert.ok(!ids(bundle).includes(`Observation/${world.observationB.id}`));
      assert.ok(!ids(bundle).includes(`Patient/${world.patientB.id}`));
    }
  });

  it('counts (_total=accurate, _summary=count) do not include B’s resources', async () => {
    for (const query of [`Observation?_id=${world.observationB.id}`, `Observation?identifier=${MRN}|${identifierOfB}`, `Patient?_id=${world.patientB.id}`]) {
      assert.equal((await asA.search(`${query}&_total=accurate`)).total ?? 0, 0, query);
      assert.equal((await asA.search(`${query}&_summary=count`)).total ?? 0, 0, query);
    }
  });

  it('GraphQL resolves A’s reference to B’s Observation as it resolves a missing one', async () => {
    const query = (id: string) => `{ Observation(id: "${id}") { id hasMember { reference resource { ... on Observation { id code { text } } } } } }`;
    const res = await asA.post('$graphql', { query: query(panelA.id) });
    assert.equal(res.status, 200);
    assert.ok(!res.text.includes('lesion of B'), res.text);
    const members = res.body.data?.Observation?.hasMember ?? [];
    assert.equal(members[0]?.resource ?? null, null, res.text);
  });

  it('conditional create (If-None-Exist) on B’s identifier creates A’s own resource instead of revealing B’s', async () => {
    const res = await asA.post('Observation', { ...observationOf(world.patientA, 'mine'), identifier: [{ system: MRN, value: identifierOfB }] }, {
      'If-None-Exist': `identifier=${MRN}|${identifierOfB}`,
    });
    assert.equal(res.status, 201, res.text);
    assert.notEqual(res.body.id, world.observationB.id);
    await world.admin.delete(`Observation/${res.body.id}`);
  });

  it('a transaction’s conditional create on B’s identifier does not resolve to B’s Observation', async () => {
    const res = await asA.post('', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:' + randomUUID(),
          request: { method: 'POST', url: 'Observation', ifNoneExist: `identifier=${MRN}|${identifierOfB}` },
          resource: { ...observationOf(world.patientA, 'mine'), identifier: [{ system: MRN, value: identifierOfB }] },
        },
      ],
    });
    assert.ok(!res.text.includes(world.observationB.id), res.text);
    assert.ok(!res.text.includes('lesion of B'), res.text);
  });

  it('conditional update and delete by B’s identifier leave B’s Observation untouched', async () => {
    await asA.put(`Observation?identifier=${MRN}|${identifierOfB}`, { ...observationOf(world.patientA, 'mine'), status: 'amended' });
    await asA.delete(`Observation?identifier=${MRN}|${identifierOfB}`);
    const b = await world.admin.get(`Observation/${world.observationB.id}`);
    assert.equal(b.status, 200);
    assert.equal(b.body.meta.versionId, world.observationB.meta.versionId);
  });

  it('referencing B’s Observation in a write answers exactly like referencing one that does not exist', async () => {
    const attempt = async (id: string) => {
      const res = await asA.post('Observation', { ...observationOf(world.patientA, 'link'), hasMember: [{ reference: `Observation/${id}` }] });
      if (res.status === 201) {
        await world.admin.delete(`Observation/${res.body.id}`);
      }
      return `${res.status} ${res.status === 201 ? '' : res.text.split(id).join('<id>')}`;
    };
    assert.equal(await attempt(world.observationB.id), await attempt(randomUUID()), 'a write reveals whether B’s resource exists');
  });

  it('update-as-create at an id that exists outside A’s compartment answers like an id that does not exist', async () => {
    const attempt = async (id: string) => {
      const res = await asA.put(`Observation/${id}`, { ...observationOf(world.patientA, 'mine'), id });
      if (res.status === 201) {
        await world.admin.delete(`Observation/${id}`);
      }
      return `${res.status}`;
    };
    assert.equal(await attempt(world.observationB.id), await attempt(randomUUID()), 'PUT reveals whether the id exists');
  });
});
