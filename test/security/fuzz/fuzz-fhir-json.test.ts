/**
 * Fuzzing the FHIR write surface with fast-check: arbitrary JSON, mutated valid resources,
 * QuestionnaireResponses and transaction Bundles. For every input: no 5xx, an answer within the
 * request timeout (no hang), the server still up, and nothing stored that was not acknowledged.
 */
import assert from 'node:assert/strict';
import type { QuestionnaireResponse, QuestionnaireResponseItem, Resource } from '@medplum/fhirtypes';
import fc from 'fast-check';
import {
  assertNothingUnacknowledged,
  BATCH,
  check,
  describeFailure,
  exampleResources,
  exampleTransaction,
  fcParameters,
  INPUTS,
  startFuzzServer,
  SURFACE_TIMEOUT_MS,
  type FuzzServer,
  type Reply,
} from './fuzz-harness';
import { applyMutations, applyTextMutation, mutationArb, textMutationArb } from './json-mutation';

const TYPES = ['Patient', 'Observation', 'QuestionnaireResponse', 'Media', 'ServiceRequest', 'Task', 'Binary', 'DiagnosticReport', 'Bundle', 'Foo', 'patient', '$graphql'];

interface WriteInput {
  readonly method: 'POST' | 'PUT' | 'PATCH';
  readonly path: string;
  readonly body: string;
  readonly contentType: string;
  readonly asPatient: boolean;
}

describe(`fuzzing FHIR JSON writes (${INPUTS} inputs per surface)`, function () {
  this.timeout(SURFACE_TIMEOUT_MS);
  let fuzz: FuzzServer;
  let examples: Resource[];

  before(async () => {
    fuzz = await startFuzzServer();
    examples = exampleResources();
  });

  after(async () => {
    await fuzz?.close();
  });

  /** Sends a batch concurrently and checks every property on every reply. */
  async function sendBatch(inputs: readonly WriteInput[]): Promise<void> {
    const mark = fuzz.mark();
    const replies: Reply[] = await Promise.all(
      inputs.map((input) =>
        fuzz.send(input.method, input.path, { token: input.asPatient ? fuzz.patientToken : fuzz.adminToken, body: input.body, contentType: input.contentType })
      )
    );
    replies.forEach((reply, i) => {
      assert.ok(reply.status < 500, describeFailure(reply, inputs[i]));
      assert.match(reply.headers.get('content-type') ?? '', /json/, describeFailure(reply, inputs[i]));
    });
    assertNothingUnacknowledged(fuzz, mark, replies, inputs);
  }

  const contentTypeArb = fc.constantFrom('application/fhir+json', 'application/json', 'application/json-patch+json', 'application/fhir+json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', 'application/xml');
  const idArb = fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 80 }).map(encodeURIComponent), fc.constantFrom('example-patient', '..', '%2e%2e', '_history', '$graphql', 'a'.repeat(65)));

  it('survives arbitrary JSON bodies on every write interaction', async () => {
    const bodyArb = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
      fc.record({ resourceType: fc.constantFrom(...TYPES), id: fc.option(idArb), rest: fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }) }).map(({ resourceType, id, rest }) =>
        JSON.stringify({ ...rest, resourceType, ...(id ? { id } : {}) })
      ),
      fc.string({ maxLength: 200, unit: 'binary' })
    );
    const inputArb: fc.Arbitrary<WriteInput> = fc.record({
      method: fc.constantFrom('POST' as const, 'PUT' as const, 'PATCH' as const),
      type: fc.constantFrom(...TYPES),
      id: idArb,
      body: bodyArb,
      contentType: contentTypeArb,
      asPatient: fc.boolean(),
    }).map(({ method, type, id, body, contentType, asPatient }) => ({ method, path: method === 'POST' ? type : `${type}/${id}`, body, contentType, asPatient }));
    await check(fc.asyncProperty(fc.array(inputArb, { minLength: BATCH, maxLength: BATCH }), sendBatch), fcParameters());
    fuzz.assertStoreConsistent();
  });

  it('survives mutations of valid resources (the profile examples), and stores only what it acknowledged', async () => {
    const inputArb: fc.Arbitrary<WriteInput> = fc
      .record({
        example: fc.nat({ max: examples.length - 1 }),
        mutations: fc.array(mutationArb, { minLength: 0, maxLength: 4 }),
        text: textMutationArb,
        put: fc.boolean(),
        asPatient: fc.boolean(),
      })
      .map(({ example, mutations, text, put, asPatient }) => {
        const original = examples[example];
        const body = applyTextMutation(JSON.stringify(applyMutations(original, mutations)), text);
        return { method: put ? 'PUT' : 'POST', path: put ? `${original.resourceType}/${original.id}` : original.resourceType, body, contentType: 'application/fhir+json', asPatient };
      });
    await check(fc.asyncProperty(fc.array(inputArb, { minLength: BATCH, maxLength: BATCH }), sendBatch), fcParameters());
    fuzz.assertStoreConsistent();
  });

  it('survives generated QuestionnaireResponses (answers of every type, nesting, unknown linkIds)', async () => {
    const intake = examples.find((r) => r.resourceType === 'QuestionnaireResponse' && r.id === 'example-intake-response') as QuestionnaireResponse;
    const linkIds = [...JSON.stringify(intake).matchAll(/"linkId":"([^"]+)"/g)].map((m) => m[1]);
    const answerArb = fc.oneof(
      fc.record({ valueString: fc.string({ maxLength: 50 }) }),
      fc.record({ valueInteger: fc.integer() }),
      fc.record({ valueDecimal: fc.double({ noNaN: true }) }),
      fc.record({ valueBoolean: fc.boolean() }),
      fc.record({ valueDate: fc.constantFrom('2024-01-01', '2024-13-01', '1900', 'yesterday') }),
      fc.record({ valueCoding: fc.record({ system: fc.constantFrom('http://snomed.info/sct', 'urn:x'), code: fc.string({ maxLength: 10 }) }) }),
      fc.record({ valueAttachment: fc.record({ contentType: fc.constantFrom('image/jpeg', 'text/html'), url: fc.constantFrom('Binary/nope', 'javascript:alert(1)', 'https://evil.example/x.jpg') }) }),
      fc.record({ valueReference: fc.record({ reference: fc.constantFrom('Media/nope', 'Patient/example-patient', 'Binary/x') }) }),
      fc.jsonValue({ maxDepth: 2 })
    );
    const itemArb: fc.Arbitrary<QuestionnaireResponseItem> = fc.letrec((tie) => ({
      item: fc.record(
        {
          linkId: fc.oneof(fc.constantFrom(...linkIds), fc.string({ maxLength: 10 })),
          answer: fc.array(answerArb as fc.Arbitrary<never>, { maxLength: 3 }),
          item: fc.array(tie('item') as fc.Arbitrary<QuestionnaireResponseItem>, { maxLength: 2, depthIdentifier: 'qr' }),
        },
        { requiredKeys: ['linkId'] }
      ),
    })).item as fc.Arbitrary<QuestionnaireResponseItem>;
    const inputArb: fc.Arbitrary<WriteInput> = fc
      .record({
        // Mostly small generated forms: validating the full intake form costs ~20 ms, and CI's budget is a minute.
        generated: fc.boolean().chain((b) => (b ? fc.constant(true) : fc.constantFrom(true, true, false))),
        items: fc.array(itemArb, { maxLength: 6 }),
        mutations: fc.array(mutationArb, { maxLength: 3 }),
        // A stored completed intake triggers the triage bot (~10 ms of CPU each): one in ten here,
        // the rest exercise validation and storage within CI's budget.
        status: fc.oneof({ arbitrary: fc.constant('completed'), weight: 1 }, { arbitrary: fc.constantFrom('in-progress', 'amended', 'stopped', 'entered-in-error', 'bogus'), weight: 9 }),
        asPatient: fc.boolean(),
      })
      .map(({ generated, items, mutations, status, asPatient }) => {
        // As patient A, about patient A: past the compartment check, into validation.
        const subject = asPatient ? { subject: { reference: `Patient/${fuzz.patientA}` }, author: { reference: `Patient/${fuzz.patientA}` } } : {};
        const base: QuestionnaireResponse = { ...intake, ...subject, id: undefined, status: status as QuestionnaireResponse['status'] };
        const qr = generated ? { ...base, item: items } : applyMutations(base, mutations);
        return { method: 'POST', path: 'QuestionnaireResponse', body: JSON.stringify(qr), contentType: 'application/fhir+json', asPatient };
      });
    await check(fc.asyncProperty(fc.array(inputArb, { minLength: BATCH, maxLength: BATCH }), sendBatch), fcParameters());
    fuzz.assertStoreConsistent();
  });

  it('survives mutated transaction and batch Bundles, applying each transaction whole or not at all', async () => {
    const transaction = exampleTransaction();
    const inputArb: fc.Arbitrary<WriteInput> = fc
      .record({ mutations: fc.array(mutationArb, { maxLength: 4 }), text: textMutationArb, batch: fc.boolean(), asPatient: fc.boolean() })
      .map(({ mutations, text, batch, asPatient }) => {
        const bundle = applyMutations({ ...transaction, type: batch ? 'batch' : 'transaction' }, mutations);
        return { method: 'POST', path: '', body: applyTextMutation(JSON.stringify(bundle), text), contentType: 'application/fhir+json', asPatient };
      });
    // Fewer, larger inputs: each transaction writes a whole case.
    const params = { ...fcParameters<[readonly WriteInput[]]>(), numRuns: Math.ceil(INPUTS / BATCH / 4) };
    await check(fc.asyncProperty(fc.array(inputArb, { minLength: BATCH, maxLength: BATCH }), sendBatch), params);
    fuzz.assertStoreConsistent();
  });
});
