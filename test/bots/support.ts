import type { Bundle, QuestionnaireResponse, QuestionnaireResponseItem, Task } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MedplumClient } from '@medplum/core';
import { strict as assert } from 'node:assert';
import { connectStoreClient, storeConnection } from '../../src/client/store-client';
import type { FhirHttp } from '../support/fhir-http';
import { fhirHttp } from '../support/fhir-http';
import type { TestServer } from '../support/test-server';
import { startTestServer } from '../support/test-server';

export interface BotServer {
  readonly server: TestServer;
  /** Admin FHIR client over HTTP. */
  readonly http: FhirHttp;
  /** The system MedplumClient bots are given. */
  readonly medplum: MedplumClient;
}

/**
 * A real server for one describe block, with the bots running in it: registers the mocha hooks
 * and returns the handles, filled in once `before` has run. After the block, no bot run may have
 * failed (a dead letter or a retry would otherwise pass unnoticed).
 */
export function useBotServer(): BotServer {
  const handles = {} as { server: TestServer; http: FhirHttp; medplum: MedplumClient };
  before(async () => {
    handles.server = await startTestServer();
    handles.http = fhirHttp(handles.server.baseUrl, await handles.server.adminToken());
    handles.medplum = await connectStoreClient(storeConnection(handles.server.dermbridge.config));
  });
  after(async () => {
    try {
      assert.deepEqual(await failedBotRuns(handles.server.baseUrl, await handles.server.adminToken()), [], 'no bot run failed');
    } finally {
      await handles.server.close();
    }
  });
  return handles;
}

/** The sample case transaction with fresh identifiers, optionally edited (answers, Task). */
export function sampleCase(edit: { answers?: Record<string, boolean>; task?: Partial<Task> } = {}): Bundle {
  const bundle = JSON.parse(readFileSync(join(__dirname, '../../fhir-profiles/examples/sample-case.transaction.json'), 'utf8')) as Bundle;
  const suffix = randomUUID().slice(0, 8);
  const uuids = new Map<string, string>();
  let text = JSON.stringify(bundle)
    .replaceAll('MRN-0042', `MRN-${suffix}`)
    .replaceAll('DB-2025-000123', `DB-${suffix}`);
  // Fresh urn:uuids so two cases in one store never collide.
  text = text.replace(/urn:uuid:[0-9a-f-]{36}/g, (m) => {
    if (!uuids.has(m)) uuids.set(m, `urn:uuid:${randomUUID()}`);
    return uuids.get(m) as string;
  });
  const result = JSON.parse(text) as Bundle;
  for (const entry of result.entry ?? []) {
    const resource = entry.resource;
    if (resource?.resourceType === 'QuestionnaireResponse' && edit.answers) {
      setAnswers((resource as QuestionnaireResponse).item, edit.answers);
    }
    if (resource?.resourceType === 'Task' && edit.task) {
      Object.assign(resource, edit.task);
    }
  }
  return result;
}

function setAnswers(items: QuestionnaireResponseItem[] | undefined, answers: Record<string, boolean>): void {
  for (const item of items ?? []) {
    if (item.linkId in answers) {
      item.answer = [{ valueBoolean: answers[item.linkId] }];
    }
    setAnswers(item.item, answers);
    for (const a of item.answer ?? []) setAnswers(a.item, answers);
  }
}

export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface CaseRefs {
  readonly patient: string;
  readonly sr: string;
  readonly task: string;
  readonly qr: string;
  readonly media: string[];
}

interface HttpLike {
  post(path: string, body: unknown): PromiseLike<{ status: number; text: string; body: unknown }>;
  get(path: string): PromiseLike<{ body: unknown }>;
  put(path: string, body: unknown): PromiseLike<{ status: number; text: string; body: unknown }>;
}

/** Submits a case transaction and returns where each part was stored. */
export async function submitCase(http: HttpLike, bundle: Bundle): Promise<CaseRefs> {
  const res = await http.post('', bundle);
  if (res.status !== 200) {
    throw new Error(`case transaction failed: ${res.status} ${res.text}`);
  }
  const locations = ((res.body as Bundle).entry ?? []).map((e) => (e.response?.location ?? '').split('/').slice(0, 2).join('/'));
  const one = (type: string): string => locations.find((l) => l.startsWith(`${type}/`)) as string;
  return { patient: one('Patient'), sr: one('ServiceRequest'), task: one('Task'), qr: one('QuestionnaireResponse'), media: locations.filter((l) => l.startsWith('Media/')) };
}

/** requested → accepted → in-progress, owned by a new dermatologist; returns the Practitioner reference. */
export async function startReview(http: HttpLike, taskRef: string): Promise<string> {
  const practitioner = await http.post('Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Derm', given: ['Dana'] }] });
  const owner = `Practitioner/${(practitioner.body as { id: string }).id}`;
  for (const status of ['accepted', 'in-progress'] as const) {
    const task = (await http.get(taskRef)).body as Task;
    const res = await http.put(taskRef, { ...task, status, owner: { reference: owner } });
    if (res.status !== 200) {
      throw new Error(`Task → ${status}: ${res.status} ${res.text}`);
    }
  }
  return owner;
}

/** Waits until the resources' versions stop changing (the dispatcher's after-commit runs have settled). */
export async function settle(http: HttpLike, refs: readonly string[], quietMs = 600): Promise<void> {
  const versions = async (): Promise<string> =>
    JSON.stringify(await Promise.all(refs.map(async (r) => ((await http.get(r)).body as { meta?: { versionId?: string } }).meta?.versionId)));
  let last = await versions();
  let quietSince = Date.now();
  const deadline = Date.now() + 15_000;
  while (Date.now() - quietSince < quietMs) {
    if (Date.now() > deadline) {
      throw new Error('resources kept changing');
    }
    await new Promise((r) => setTimeout(r, 100));
    const now = await versions();
    if (now !== last) {
      last = now;
      quietSince = Date.now();
    }
  }
}

/** Bot runs that failed (dead or waiting to retry), from the operator endpoints. */
export async function failedBotRuns(baseUrl: string, token: string): Promise<unknown[]> {
  const { default: request } = await import('supertest');
  const root = baseUrl.replace(/\/$/, '');
  const dead = await request(root).get('/admin/dead-letters').set('Authorization', `Bearer ${token}`);
  const retrying = await request(root).get('/admin/bot-runs/retrying').set('Authorization', `Bearer ${token}`);
  return [...dead.body.deadLetters, ...retrying.body.retrying];
}
