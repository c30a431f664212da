/**
 * The authorization matrix: every FHIR interaction × every principal, against patient A's data.
 * The expected answer of each cell is data in the table below; the tests are generated from it.
 *   allow  - the principal read or changed A's data
 *   hidden - 404, or a 2xx carrying nothing of A (filtered search, empty include)
 *   401    - not authenticated (no, expired or forged token)
 *   403    - authenticated, but no granted scope covers the interaction
 * Beyond the table: a principal denied A never sees any of A's markers (ids, name, photo), and a
 * hidden id-targeted answer is identical to the answer for an id that does not exist.
 * Principals are defined in authorization-fixture.ts (including what "PCP of another practice" is).
 */
import assert from 'node:assert/strict';
import { PRINCIPALS, buildWorld, type Principal, type World } from './authorization-fixture';
import { INTERACTIONS, type Probe, type Verdict } from './authorization-interactions';
import { startTestServer, type TestServer } from '../support/test-server';

type Row = readonly [interaction: string, ...expected: Verdict[]];

// prettier-ignore
const MATRIX: readonly Row[] = [
  //                                anonymous expired forged patientA  patientB  clinician pcpOther  sysNarrow sysWide
  ['read Patient',                  401,      401,    401,   'allow',  'hidden', 'allow',  'hidden', 'allow',  'allow'],
  ['read Observation',              401,      401,    401,   'allow',  'hidden', 'allow',  'hidden', 403,      'allow'],
  ['vread Observation',             401,      401,    401,   'allow',  'hidden', 'allow',  'hidden', 403,      'allow'],
  ['history Observation',           401,      401,    401,   'allow',  'hidden', 'allow',  'hidden', 403,      'allow'],
  ['search Patient',                401,      401,    401,   'allow',  'hidden', 'allow',  'hidden', 'allow',  'allow'],
  ['search Observation',            401,      401,    401,   'allow',  'hidden', 'allow',  'hidden', 403,      'allow'],
  ['search Observation by subject', 401,      401,    401,   'allow',  'hidden', 'allow',  'hidden', 403,      'allow'],
  ['system search _type',           401,      401,    401,   'allow',  'hidden', 'allow',  'hidden', 403,      'allow'],
  ['search via POST _search',       401,      401,    401,   'allow',  'hidden', 'allow',  'hidden', 403,      'allow'],
  ['create Observation',            401,      401,    401,   'allow',  403,      'allow',  403,      403,      'allow'],
  ['update Observation',            401,      401,    401,   'allow',  'hidden', 'allow',  403,      403,      'allow'],
  ['patch Observation',             401,      401,    401,   'allow',  'hidden', 'allow',  403,      403,      'allow'],
  ['delete Observation',            401,      401,    401,   'allow',  'hidden', 'allow',  403,      403,      'allow'],
  ['transaction entry (create)',    401,      401,    401,   'allow',  403,      'allow',  403,      403,      'allow'],
  ['batch entry (read)',            401,      401,    401,   'allow',  'hidden', 'allow',  'hidden', 403,      'allow'],
  ['_include',                      401,      401,    401,   'allow',  'hidden', 'allow',  'hidden', 403,      'allow'],
  ['_revinclude',                   401,      401,    401,   'allow',  'hidden', 'allow',  'hidden', 403,      'allow'],
  ['chained search',                401,      401,    401,   'allow',  'hidden', 'allow',  'hidden', 403,      'allow'],
  ['GraphQL read',                  401,      401,    401,   'allow',  'hidden', 'allow',  'hidden', 403,      'allow'],
  ['GraphQL search',                401,      401,    401,   'allow',  'hidden', 'allow',  'hidden', 403,      'allow'],
  ['Binary raw download',           401,      401,    401,   'allow',  'hidden', 'allow',  403,      403,      'allow'],
  // The audit trail shows who looked at a record: not for patient-limited or narrow grants.
  ['AuditEvent search',             401,      401,    401,   403,      403,      'allow',  403,      403,      'allow'],
];

const expected = (row: Row, principal: Principal): Verdict => row[1 + PRINCIPALS.indexOf(principal)] as Verdict;

/** The response with the target id (and anything volatile) replaced, for comparing two refusals. */
function normalized(result: Probe): string {
  let text = result.text;
  if (result.targetId) {
    text = text.split(result.targetId).join('<id>');
  }
  return `${result.status} ${text.replace(/"lastUpdated":"[^"]*"/g, '').replace(/urn:uuid:[0-9a-f-]{36}/g, 'urn:uuid')}`;
}

describe('authorization matrix on /fhir/R4', () => {
  let server: TestServer;
  let world: World;

  before(async () => {
    server = await startTestServer({}, { writeRateLimit: { limit: 100_000, windowMs: 60_000 } });
    world = await buildWorld(server);
  });

  after(async () => {
    await server.close();
  });

  it('has one row per interaction and one column per principal', () => {
    assert.deepEqual(MATRIX.map((row) => row[0]).sort(), INTERACTIONS.map((i) => i.name).sort());
    for (const row of MATRIX) {
      assert.equal(row.length, PRINCIPALS.length + 1, row[0]);
    }
  });

  for (const interaction of INTERACTIONS) {
    const row = MATRIX.find((r) => r[0] === interaction.name);
    describe(interaction.name, () => {
      for (const principal of PRINCIPALS) {
        const want = row ? expected(row, principal) : undefined;
        it(`${principal}: ${want}`, async () => {
          assert.ok(row, `no row for ${interaction.name}`);
          const result = await interaction.run(world, principal);
          assert.equal(result.verdict, want, `${interaction.name} as ${principal}: ${result.status} ${result.text.slice(0, 300)}`);
          if (want !== 'allow') {
            // Nothing of A that the request did not itself name may appear in a refusal or a filtered result.
            const leaked = world.markersOfA.filter((m) => !result.sent.includes(m) && result.text.includes(m));
            assert.deepEqual(leaked, [], `${interaction.name} as ${principal} leaks A's data: ${result.text.slice(0, 300)}`);
          }
          if (want === 'hidden' && interaction.missing) {
            const missing = await interaction.missing(world, principal);
            assert.equal(normalized(result), normalized(missing), `"exists but not yours" must answer exactly like "does not exist"`);
          }
        });
      }
    });
  }

  describe('controls (so that "hidden" is not an accident of broken fixtures)', () => {
    it('the PCP of the other practice sees its own patient C and C’s Observation', async () => {
      const pcp = world.client('pcpOther');
      assert.equal((await pcp.get(`Patient/${world.patientC.id}`)).status, 200);
      assert.equal((await pcp.get(`Observation/${world.observationC.id}`)).status, 200);
      const bundle = await pcp.search('Observation?_include=Observation:subject');
      assert.deepEqual(
        (bundle.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`).sort(),
        [`Observation/${world.observationC.id}`, `Patient/${world.patientC.id}`].sort()
      );
    });

    it('patient B sees its own Observation, and only its own', async () => {
      const bundle = await world.client('patientB').search('Observation');
      assert.deepEqual(
        (bundle.entry ?? []).map((e) => e.resource?.id),
        [world.observationB.id]
      );
    });
  });
});
