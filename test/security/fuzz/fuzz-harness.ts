/**
 * Shared machinery of the fuzz tests: a real server on a loopback port driven with keep-alive
 * `fetch` (fast enough for tens of thousands of inputs), a per-request timeout (a hang fails the
 * property), and store counts to prove that a refused write stored nothing.
 *
 * Inputs per surface: FUZZ_INPUTS (default 10,000, `npm run fuzz` raises it); FUZZ_SEED replays a
 * failure that fast-check reported.
 *
 * Seeds: `npm test` uses a fixed seed, so CI is deterministic (the same 10k inputs every run, and a
 * red build always means a change broke something); `npm run fuzz` sets FUZZ_RANDOM=1 and explores
 * new inputs on every run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import fc from 'fast-check';
import { seedConformanceResources } from '../../../src/fhir/seed-conformance';
import { PROJECT_ROOT } from '../../support/child-server';
import { startTestServer, type TestServer } from '../../support/test-server';

export const INPUTS = Number(process.env.FUZZ_INPUTS ?? 10_000);
/** Inputs sent concurrently per property run: concurrency is part of what is fuzzed, and it is faster. */
export const BATCH = 10;
/** An answer slower than this is a hang: generous, because CI machines are shared and slow. */
export const REQUEST_TIMEOUT_MS = 20_000;
/** Mocha timeout of one surface: generous, since CI machines differ; the default run takes well under a minute. */
export const SURFACE_TIMEOUT_MS = Math.max(180_000, INPUTS * 30);

/** The seed of `npm test`'s fuzz run. */
const FIXED_SEED = 20261124;

export function fcParameters<T>(): fc.Parameters<T> {
  const seed =
    process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : process.env.FUZZ_RANDOM ? undefined : FIXED_SEED;
  return { numRuns: Math.ceil(INPUTS / BATCH), seed, endOnFailure: true };
}

export interface Reply {
  readonly status: number;
  readonly text: string;
  readonly headers: Headers;
  readonly bytes: Buffer;
}

export interface FuzzServer {
  readonly server: TestServer;
  readonly adminToken: string;
  /** Patient A's token (patient/*.cruds) and the ids of patient A and B. */
  readonly patientToken: string;
  readonly patientA: string;
  readonly patientB: string;
  send(method: string, path: string, options?: { token?: string; body?: string | Uint8Array; contentType?: string; accept?: string; authorization?: string }): Promise<Reply>;
  /** The newest resource version's sequence number: a mark to ask what was written since. */
  mark(): number;
  /** `Type/id/versionId` of every version written after `mark`. */
  writtenSince(mark: number): string[];
  /** No resource without its current version, no version or index row without its resource. */
  assertStoreConsistent(): void;
  close(): Promise<void>;
}

export async function startFuzzServer(): Promise<FuzzServer> {
  const server = await startTestServer({}, { writeRateLimit: { limit: 1_000_000_000, windowMs: 60_000 } });
  await seedConformanceResources(server.dermbridge.repo, server.dermbridge.validator.conformance);
  const adminToken = await server.adminToken();
  const base = `${server.baseUrl}fhir/R4/`;
  const send: FuzzServer['send'] = async (method, path, options = {}) => {
    const headers: Record<string, string> = { Accept: options.accept ?? 'application/fhir+json' };
    if (options.authorization !== undefined) {
      headers.Authorization = options.authorization;
    } else if (options.token !== undefined) {
      headers.Authorization = `Bearer ${options.token}`;
    }
    if (options.contentType) {
      headers['Content-Type'] = options.contentType;
    }
    const started = Date.now();
    let res: Response;
    let bytes: Buffer;
    try {
      res = await fetch(base + path, { method, headers, body: options.body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      bytes = Buffer.from(await res.arrayBuffer());
    } catch (err) {
      // A hang (or a dropped connection) names the request that caused it.
      const body = typeof options.body === 'string' ? options.body.slice(0, 600) : `<${options.body?.length ?? 0} bytes>`;
      throw new Error(`no answer after ${Date.now() - started} ms (${(err as Error).message}): ${method} ${path} ${options.contentType ?? ''} ${body}`);
    }
    return { status: res.status, text: bytes.toString('utf8'), headers: res.headers, bytes };
  };
  await seedExamples(send, adminToken);
  const created = async (body: object): Promise<string> => {
    const res = await send('POST', 'Patient', { token: adminToken, body: JSON.stringify(body), contentType: 'application/fhir+json' });
    if (res.status !== 201) {
      throw new Error(`seed failed: ${res.status} ${res.text}`);
    }
    return JSON.parse(res.text).id as string;
  };
  const patientA = await created({ resourceType: 'Patient', name: [{ family: 'FuzzA' }] });
  const patientB = await created({ resourceType: 'Patient', name: [{ family: 'FuzzB' }] });
  const patientToken = await server.token({ scopes: ['patient/*.cruds'], patientId: patientA, fhirUser: `Patient/${patientA}` });
  const db = server.dermbridge.store.writer;
  const markStatement = db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM resource_version');
  const sinceStatement = db.prepare('SELECT r.type, r.id, v.version_id FROM resource_version v JOIN resource r ON r.rid = v.rid WHERE v.seq > ?');
  return {
    server,
    adminToken,
    patientToken,
    patientA,
    patientB,
    send,
    mark: () => Number((markStatement.get() as { seq: number }).seq),
    writtenSince: (mark) => (sinceStatement.all(mark) as { type: string; id: string; version_id: string }[]).map((r) => `${r.type}/${r.id}/${r.version_id}`),
    assertStoreConsistent() {
      const orphans = db
        .prepare(
          `SELECT
             (SELECT COUNT(*) FROM resource r WHERE NOT EXISTS (SELECT 1 FROM resource_version v WHERE v.rid = r.rid AND v.version_id = r.version_id)) AS without_version,
             (SELECT COUNT(*) FROM resource_version v WHERE NOT EXISTS (SELECT 1 FROM resource r WHERE r.rid = v.rid)) AS stray_versions,
             (SELECT COUNT(*) FROM ix_token i WHERE NOT EXISTS (SELECT 1 FROM resource r WHERE r.rid = i.rid)) AS stray_tokens,
             (SELECT COUNT(*) FROM ix_reference i WHERE NOT EXISTS (SELECT 1 FROM resource r WHERE r.rid = i.rid)) AS stray_references`
        )
        .get() as Record<string, number>;
      for (const [what, n] of Object.entries(orphans)) {
        if (Number(n) !== 0) {
          throw new Error(`store is inconsistent: ${n} ${what}`);
        }
      }
    },
    close: () => server.close(),
  };
}

/** The profile examples (fhir-profiles/examples), stored under their own ids so that mutations of them can succeed. */
export function exampleResources(): Resource[] {
  const dir = join(PROJECT_ROOT, 'fhir-profiles/examples');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Resource)
    .filter((r) => r.resourceType !== 'Bundle');
}

export function exampleTransaction(): Resource {
  return JSON.parse(readFileSync(join(PROJECT_ROOT, 'fhir-profiles/examples/sample-case.transaction.json'), 'utf8')) as Resource;
}

/** Stubs for every reference the examples make, then the examples themselves, in as many rounds as their references need. */
async function seedExamples(send: FuzzServer['send'], token: string): Promise<void> {
  const examples = exampleResources();
  const references = new Set<string>();
  JSON.stringify(examples, (key, value) => {
    if (key === 'reference' && typeof value === 'string' && /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]+$/.test(value)) {
      references.add(value);
    }
    return value;
  });
  for (const ref of references) {
    const [type, id] = ref.split('/');
    if (['Patient', 'Practitioner', 'Organization', 'PractitionerRole', 'Device'].includes(type)) {
      await send('PUT', ref, { token, body: JSON.stringify({ resourceType: type, id }), contentType: 'application/fhir+json' });
    }
  }
  let pending = examples;
  for (let round = 0; round < 4 && pending.length > 0; round++) {
    const failed: Resource[] = [];
    for (const resource of pending) {
      const res = await send('PUT', `${resource.resourceType}/${resource.id}`, { token, body: JSON.stringify(resource), contentType: 'application/fhir+json' });
      if (res.status >= 300) {
        failed.push(resource);
      }
    }
    pending = failed;
  }
}

/**
 * What a 2xx reply acknowledged as written: the resource itself, or every entry of a
 * transaction/batch response (`Type/id/_history/vid` locations).
 */
export function acknowledgedVersions(reply: Reply): string[] {
  if (reply.status < 200 || reply.status >= 300) {
    return [];
  }
  let body: { resourceType?: string; id?: string; meta?: { versionId?: string }; entry?: { response?: { location?: string } }[] };
  try {
    body = JSON.parse(reply.text);
  } catch {
    return [];
  }
  if (body.resourceType === 'Bundle' && body.entry) {
    // Batch entries name `Type/id`, transaction entries `Type/id/_history/vid`.
    return body.entry.flatMap((e) => {
      const m = e.response?.location?.match(/([A-Z][A-Za-z]+\/[^/]+)(?:\/_history\/([^/]+))?$/);
      return m ? [m[2] ? `${m[1]}/${m[2]}` : m[1]] : [];
    });
  }
  return body.id && body.meta?.versionId ? [`${body.resourceType}/${body.id}/${body.meta.versionId}`] : [];
}

/**
 * Types the server's own bots write after a commit (triage, review, queue), asynchronously and
 * unrelated to any one reply: a version of these cannot be attributed to an input, so the
 * half-stored check leaves them out. Patient, Observation, QuestionnaireResponse, Media, Binary
 * and the rest stay under it.
 */
const SERVER_DERIVED_TYPES = new Set(['RiskAssessment', 'Flag', 'Provenance', 'Communication', 'CarePlan', 'MedicationRequest', 'DiagnosticReport', 'Task', 'ServiceRequest', 'Bot', 'Subscription', 'AuditEvent']);

/** Every version written since `mark` was acknowledged by one of `replies`: a refused write stored nothing. */
export function assertNothingUnacknowledged(fuzz: FuzzServer, mark: number, replies: readonly Reply[], inputs: unknown): void {
  const acknowledged = new Set(replies.flatMap(acknowledgedVersions));
  const stray = fuzz
    .writtenSince(mark)
    .filter((v) => !SERVER_DERIVED_TYPES.has(v.split('/')[0]) && !acknowledged.has(v) && !acknowledged.has(v.split('/').slice(0, 2).join('/')));
  if (stray.length > 0) {
    throw new Error(`written but not acknowledged (half-stored): ${stray.join(', ')}\nreplies: ${replies.map((r) => r.status).join(',')}\ninputs: ${JSON.stringify(inputs)?.slice(0, 800)}`);
  }
}

/** Runs a property; a failure message is cut to a readable length (the seed and path to replay it come first). */
export async function check<T>(property: fc.IAsyncPropertyWithHooks<T>, params: fc.Parameters<T> = fcParameters<T>()): Promise<void> {
  try {
    await fc.assert(property, params);
  } catch (err) {
    const message = String((err as Error).message);
    const cause = (err as Error).cause as Error | undefined;
    const limit = process.env.FUZZ_FULL_INPUT ? Infinity : 1500;
    throw new Error(`${message.slice(0, 1500)}\n...\ncaused by: ${String(cause?.message ?? '').slice(0, limit)}`);
  }
}

/** A reply is acceptable if the server answered on purpose: anything but a 5xx. */
export function describeFailure(reply: Reply, input: unknown): string {
  // FUZZ_FULL_INPUT=1 (with FUZZ_SEED to replay) prints the whole input, to turn a finding into a test.
  const limit = process.env.FUZZ_FULL_INPUT ? Infinity : 600;
  return `${reply.status} ${reply.text.slice(0, 400)}\ninput: ${JSON.stringify(input)?.slice(0, limit)}`;
}
