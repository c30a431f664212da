import type { Bundle } from '@medplum/fhirtypes';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import express from 'express';
import request from 'supertest';
import { intakeDepsFrom } from '../../src/intake';
import type { IntakeDeps } from '../../src/intake';
import { createIntakeRoutes } from '../../src/intake/routes';
import { startTestServer, type TestServer } from '../support/test-server';
import { econsultResponse, mrnPatient, threePhotos } from './intake-fixtures';
import { adminWrite, countAll } from './intake-http';

/**
 * A real Medplum server (fhir-router 5.2 BatchProcessor) refuses a transaction that has a
 * conditional create and more than 8 entries. This fetch makes the embedded store behave the same,
 * so the intake's fallback is exercised without a Medplum server.
 */
function medplumLikeFetch(seen: Seen): typeof fetch {
  return async (input, init) => {
    const body = typeof init?.body === 'string' ? init.body : undefined;
    if (init?.method === 'POST' && body?.includes('"resourceType":"Bundle"')) {
      const bundle = JSON.parse(body) as Bundle;
      const conditional = bundle.entry?.some((e) => e.request?.ifNoneExist);
      if (bundle.type === 'transaction' && conditional && (bundle.entry?.length ?? 0) > 8) {
        seen.refused++;
        const outcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', details: { text: 'Transaction requires strict isolation but has too many entries' } }] };
        return new Response(JSON.stringify(outcome), { status: 400, headers: { 'Content-Type': 'application/fhir+json' } });
      }
      if (bundle.type === 'transaction') seen[conditional ? 'conditional' : 'plain']++;
    }
    return fetch(input, init);
  };
}

interface Seen {
  refused: number;
  plain: number;
  conditional: number;
}

describe('POST /intake/cases against a store with Medplum\'s transaction limits', () => {
  let server: TestServer;
  let intake: Server;
  let intakeUrl: string;
  const seen: Seen = { refused: 0, plain: 0, conditional: 0 };

  before(async () => {
    server = await startTestServer();
    const { dermbridge } = server;
    const deps: IntakeDeps = { ...intakeDepsFrom({ config: dermbridge.config, bearer: dermbridge.auth.bearer, validator: dermbridge.validator, logger: dermbridge.logger }), fetch: medplumLikeFetch(seen) };
    intake = createServer(express().use('/intake', createIntakeRoutes(deps)));
    await new Promise<void>((resolve) => intake.listen(0, '127.0.0.1', resolve));
    intakeUrl = `http://127.0.0.1:${(intake.address() as { port: number }).port}/`;
  });
  after(async () => {
    intake.closeAllConnections();
    await new Promise((resolve) => intake.close(resolve));
    await server.close();
  });

  const SIX = ['overview', 'close1', 'close2', 'close3', 'close4', 'close5'];
  const send = async (token: string, mrn: string, parts: string[], key = randomUUID()) => {
    const photos = await threePhotos();
    let req = request(intakeUrl)
      .post('intake/cases')
      .set('Authorization', `Bearer ${token}`)
      .set('Idempotency-Key', key)
      .field('questionnaireResponse', JSON.stringify(econsultResponse(parts)))
      .field('patient', JSON.stringify(mrnPatient(mrn)));
    parts.forEach((part, i) => {
      req = req.attach(part, photos[i % photos.length], `${part}.jpg`);
    });
    return req;
  };
  const referrer = async (): Promise<string> => {
    const pcp = await adminWrite(server, 'post', 'Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Gp' }] });
    return server.token({ scopes: ['user/*.cruds'], fhirUser: `Practitioner/${pcp.id}` });
  };

  it('sends a 3-photo case (6 entries: the images are uploaded before) with its conditional creates, which Medplum accepts', async () => {
    const res = await send(await referrer(), `MRN-${randomUUID().slice(0, 8)}`, ['overview', 'close1', 'close2']);
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(seen, { refused: 0, plain: 0, conditional: 1 });
  });

  it('falls back to plain creates for a larger case: still one case, one Patient, idempotent on retry', async () => {
    const token = await referrer();
    const mrn = `MRN-${randomUUID().slice(0, 8)}`;
    const key = randomUUID();
    const before = await countAll(server);
    const first = await send(token, mrn, SIX, key);
    assert.equal(first.status, 201, first.text);
    assert.equal(seen.refused, 1, 'the first attempt learned the limit');
    assert.equal(seen.plain, 1);
    const again = await send(token, mrn, SIX, key);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.caseId, first.body.caseId);
    const after = await countAll(server);
    assert.deepEqual(
      Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k]])),
      { Patient: 1, QuestionnaireResponse: 1, Binary: 18, Media: 6, ServiceRequest: 1, Task: 1 }
    );
    // another large case for the same MRN matches the Patient found before the transaction…
    const other = await send(token, mrn, SIX);
    assert.equal(other.status, 201, other.text);
    assert.equal(other.body.patient, first.body.patient);
    assert.equal(seen.refused, 1, 'the limit is remembered: no second refused attempt');
    assert.equal(seen.plain, 2);
    // …while a small one still keeps its conditions
    const small = await send(token, mrn, ['overview', 'close1', 'close2']);
    assert.equal(small.status, 201, small.text);
    assert.deepEqual(seen, { refused: 1, plain: 2, conditional: 2 });
  });
});
