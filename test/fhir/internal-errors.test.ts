import type { OperationOutcome, Patient } from '@medplum/fhirtypes';
import { strict as assert } from 'node:assert';
import { fhirHttp } from '../support/fhir-http';
import type { TestServer } from '../support/test-server';
import { startTestServer } from '../support/test-server';

describe('unexpected failures in the store (FHIR routes)', () => {
  let server: TestServer;
  const logged: unknown[] = [];

  before(async () => {
    // A write guard that fails the way a bug or a full disk does: a plain Error with internals in it.
    const explode = (next: { resourceType: string }): void => {
      if (next.resourceType === 'Patient' && (next as Patient).name?.[0]?.family === 'Explode') {
        throw new Error('SQLITE_FULL: database or disk is full at /var/lib/dermbridge/secret-path');
      }
    };
    server = await startTestServer({}, { guards: [explode] });
    const pino = server.dermbridge.logger;
    const original = pino.error.bind(pino);
    pino.error = ((obj: unknown, ...rest: unknown[]) => {
      logged.push(obj);
      return (original as (...a: unknown[]) => void)(obj, ...rest);
    }) as typeof pino.error;
  });

  after(async () => {
    await server.close();
  });

  it('answers 500 with no internals in the body, logs the cause, stores nothing and keeps serving', async () => {
    const fhir = fhirHttp(server.baseUrl, await server.adminToken());
    const res = await fhir.post('Patient', { resourceType: 'Patient', name: [{ family: 'Explode' }] });
    assert.equal(res.status, 500, res.text);
    assert.equal((res.body as OperationOutcome).issue[0].code, 'exception');
    assert.doesNotMatch(res.text, /SQLITE|secret-path/);
    assert.ok(logged.some((entry) => JSON.stringify(entry, Object.getOwnPropertyNames(entry as object)).includes('SQLITE_FULL') || String((entry as { err?: Error }).err?.message).includes('SQLITE_FULL')));
    const found = await fhir.search('Patient?family=Explode');
    assert.equal(found.entry?.length ?? 0, 0);
    await fhir.create({ resourceType: 'Patient', name: [{ family: 'Fine' }] });
  });
});
