/**
 * Fuzzing the read side and the edges: arbitrary search query strings (as an administrator and as
 * patient A, who must never get patient B's data whatever the query), mutated JWTs (never let in
 * unless the token is byte-for-byte the real one), and raw Binary uploads (any bytes, any content
 * type: stored exactly or refused, and served back with nosniff). No 5xx and no hang anywhere.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BATCH, check, describeFailure, INPUTS, startFuzzServer, SURFACE_TIMEOUT_MS, assertNothingUnacknowledged, type FuzzServer } from './fuzz-harness';

const SEARCH_TYPES = ['Patient', 'Observation', 'QuestionnaireResponse', 'Media', 'Binary', 'Task', 'ServiceRequest', 'AuditEvent', 'Foo', ''];
const PARAMS = [
  '_id', '_count', '_offset', '_sort', '_total', '_summary', '_elements', '_include', '_revinclude', '_include:iterate', '_type', '_lastUpdated', '_tag', '_profile',
  '_compartment', '_has:Observation:subject:code', 'identifier', 'name', 'family', 'birthdate', 'subject', 'patient', 'subject:Patient.name', 'code', 'code:text',
  'status', 'priority', 'date', 'value-quantity', 'authored', 'questionnaire', 'owner', 'focus', 'name:exact', 'name:contains', 'name:missing', 'identifier:not', 'subject:identifier',
];
const VALUES = ['', 'x', 'Patient', '-_lastUpdated', 'accurate', 'count', 'true', 'ge2024', 'lt', 'eq2024-13-45', '1e309', '-1', '99999999999', '*', 'Patient:*', 'a|b|c', '|', '\\', '%', '%00', '%ZZ', "'; DROP TABLE resource; --", '..', 'ap5.4|http://unitsofmeasure.org|mm'];

describe(`fuzzing searches, tokens and Binary uploads (${INPUTS} inputs per surface)`, function () {
  this.timeout(SURFACE_TIMEOUT_MS);
  let fuzz: FuzzServer;
  const patientBMarkers: string[] = [];

  before(async () => {
    fuzz = await startFuzzServer();
    const admin = (method: string, path: string, body: object) => fuzz.send(method, path, { token: fuzz.adminToken, body: JSON.stringify(body), contentType: 'application/fhir+json' });
    const obsB = await admin('POST', 'Observation', { resourceType: 'Observation', status: 'final', code: { text: 'B-finding' }, subject: { reference: `Patient/${fuzz.patientB}` } });
    await admin('POST', 'Observation', { resourceType: 'Observation', status: 'final', code: { text: 'A-finding' }, subject: { reference: `Patient/${fuzz.patientA}` }, hasMember: [{ reference: `Observation/${JSON.parse(obsB.text).id}` }] });
    // Not B's Observation id: A's own Observation names it in hasMember, which A may read.
    patientBMarkers.push(fuzz.patientB, 'FuzzB', 'B-finding');
  });

  after(async () => {
    await fuzz?.close();
  });

  it('answers every query string without a 5xx, and patient A never receives B’s data', async () => {
    const pairArb = fc.tuple(
      fc.oneof(fc.constantFrom(...PARAMS), fc.string({ maxLength: 20 })),
      fc.oneof(fc.constantFrom(...VALUES), fc.string({ maxLength: 30 }), fc.string({ maxLength: 30, unit: 'binary' }))
    );
    const queryArb = fc.oneof(
      fc.array(pairArb, { maxLength: 5 }).map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')),
      // Raw, unencoded text: what a careless or hostile client sends.
      fc.string({ maxLength: 60 }).map((s) => s.replace(/[#\s]/g, '').replace(/%(?![0-9A-Fa-f]{2})/g, '%25'))
    );
    const inputArb = fc.record({ type: fc.constantFrom(...SEARCH_TYPES), query: queryArb, asPatient: fc.boolean() });
    await check(
      fc.asyncProperty(fc.array(inputArb, { minLength: BATCH, maxLength: BATCH }), async (inputs) => {
        const replies = await Promise.all(inputs.map((i) => fuzz.send('GET', `${i.type}?${i.query}`, { token: i.asPatient ? fuzz.patientToken : fuzz.adminToken })));
        replies.forEach((reply, n) => {
          assert.ok(reply.status < 500, describeFailure(reply, inputs[n]));
          if (inputs[n].asPatient) {
            const leaked = patientBMarkers.filter((m) => reply.text.includes(m) && !inputs[n].query.includes(m));
            assert.deepEqual(leaked, [], `patient A received B’s data: ${describeFailure(reply, inputs[n])}`);
          }
        });
      })
    );
  });

  it('admits a mutated token never, unless it decodes to exactly the real token', async () => {
    const real = fuzz.patientToken;
    const [header, payload, signature] = real.split('.');
    const decoded = (token: string) => token.split('.').map((part) => Buffer.from(part, 'base64url').toString('hex')).join('.');
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const headerClaims = JSON.parse(Buffer.from(header, 'base64url').toString());
    const mutationArb = fc.oneof(
      // Character-level damage anywhere in the token.
      fc.record({ at: fc.nat(), ch: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ') }).map(({ at, ch }) => {
        const i = at % real.length;
        return real.slice(0, i) + ch + real.slice(i + 1);
      }),
      fc.nat().map((n) => real.slice(0, n % real.length)),
      // Claims rewritten without the key: more scopes, another patient, no expiry, alg none, another kid.
      fc.record({ key: fc.constantFrom('scope', 'patient', 'exp', 'aud', 'iss', 'sub', 'client_id', 'fhirUser'), value: fc.jsonValue({ maxDepth: 1 }) }).map(
        ({ key, value }) => `${header}.${b64({ ...claims, [key]: value })}.${signature}`
      ),
      fc.record({ key: fc.constantFrom('alg', 'kid', 'typ', 'crit', 'jku', 'x5u', 'jwk'), value: fc.oneof(fc.constantFrom('none', 'HS256', 'RS256', 'ES384', ''), fc.jsonValue({ maxDepth: 1 })) }).map(
        ({ key, value }) => `${b64({ ...headerClaims, [key]: value })}.${payload}.${signature}`
      ),
      fc.constantFrom(`${header}.${payload}.`, `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64({ ...claims, scope: 'system/*.cruds' })}.`, `${header}.${payload}`, `${header}..${signature}`, '...', ''),
      fc.string({ maxLength: 300 })
    );
    const inputArb = fc.record({ token: mutationArb, scheme: fc.constantFrom('Bearer ', 'bearer ', 'Bearer  ', 'Basic ', '') });
    await check(
      fc.asyncProperty(fc.array(inputArb, { minLength: BATCH, maxLength: BATCH }), async (inputs) => {
        const replies = await Promise.all(inputs.map((i) => fuzz.send('GET', `Patient/${fuzz.patientA}`, { authorization: `${i.scheme}${i.token}` })));
        replies.forEach((reply, n) => {
          assert.ok(reply.status < 500, describeFailure(reply, inputs[n]));
          if (reply.status < 400) {
            assert.equal(decoded(inputs[n].token.trim()), decoded(real), `a forged token was accepted: ${describeFailure(reply, inputs[n])}`);
          } else {
            assert.equal(reply.status, 401, describeFailure(reply, inputs[n]));
          }
        });
      })
    );
  });

  it('stores any bytes exactly or refuses them cleanly, and serves them back with nosniff', async () => {
    const inputArb = fc.record({
      bytes: fc.oneof(fc.uint8Array({ maxLength: 2048 }), fc.constantFrom(new Uint8Array(0), Buffer.from('<script>alert(1)</script>'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46]))),
      contentType: fc.constantFrom('image/jpeg', 'image/png', 'image/heic', 'application/octet-stream', 'text/html', 'image/svg+xml', 'application/javascript', 'multipart/form-data; boundary=x', 'application/fhir+json', 'image/jpeg; charset=utf-8', ''),
      securityContext: fc.boolean(),
      asPatient: fc.boolean(),
    });
    await check(
      fc.asyncProperty(fc.array(inputArb, { minLength: BATCH, maxLength: BATCH }), async (inputs) => {
        const mark = fuzz.mark();
        const replies = await Promise.all(
          inputs.map((i) => fuzz.send('POST', 'Binary', { token: i.asPatient ? fuzz.patientToken : fuzz.adminToken, body: i.bytes, contentType: i.contentType || undefined }))
        );
        assertNothingUnacknowledged(fuzz, mark, replies, inputs.map((i) => ({ ...i, bytes: i.bytes.length })));
        for (const [n, reply] of replies.entries()) {
          assert.ok(reply.status < 500, describeFailure(reply, { ...inputs[n], bytes: Buffer.from(inputs[n].bytes).toString('base64') }));
          if (reply.status === 201) {
            const id = JSON.parse(reply.text).id as string;
            const raw = await fuzz.send('GET', `Binary/${id}`, { token: fuzz.adminToken, accept: 'application/octet-stream' });
            assert.equal(raw.status, 200);
            assert.ok(raw.bytes.equals(Buffer.from(inputs[n].bytes)), `Binary/${id} came back different`);
            assert.equal(raw.headers.get('x-content-type-options'), 'nosniff');
          }
        }
      })
    );
  });
});
