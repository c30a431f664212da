/**
 * Durability across an abrupt kill: the real server (`src/main.ts`) runs as a child process under
 * concurrent writes, is killed with SIGKILL at a random moment, and is restarted on the same data
 * directory. Every write it acknowledged with 2xx must be there, complete and searchable, and no
 * transaction may be half-applied, acknowledged or not.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { demoClientToken, freePort, killChild, startChildServer, type ChildServer } from '../support/child-server';

const CREATE_SYSTEM = 'urn:dermbridge:test:durability:create';
const TX_SYSTEM = 'urn:dermbridge:test:durability:tx';
const WORKERS = 8;

interface AckedCreate {
  readonly id: string;
  readonly mrn: string;
  readonly family: string;
}

interface AckedTransaction {
  readonly marker: string;
  readonly patientId: string;
  readonly observationIds: readonly string[];
}

interface AckedBinary {
  readonly id: string;
  readonly sha256: string;
  readonly size: number;
}

/** What the load acknowledged, and every transaction marker it sent (acknowledged or not). */
interface LoadRecord {
  readonly creates: AckedCreate[];
  readonly transactions: AckedTransaction[];
  readonly binaries: AckedBinary[];
  readonly sentTransactions: Set<string>;
  failures: number;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A FHIR client over fetch for one server and token. */
function client(baseUrl: string, token: string) {
  const url = (path: string): string => `${baseUrl}fhir/R4/${path}`;
  const headers = { Authorization: `Bearer ${token}`, Accept: 'application/fhir+json' };
  return {
    async post(path: string, body: unknown): Promise<{ status: number; body: any }> {
      const res = await fetch(url(path), { method: 'POST', headers: { ...headers, 'Content-Type': 'application/fhir+json' }, body: JSON.stringify(body) });
      return { status: res.status, body: await res.json() };
    },
    async postBytes(path: string, bytes: Uint8Array, contentType: string): Promise<{ status: number; body: any }> {
      const res = await fetch(url(path), { method: 'POST', headers: { ...headers, 'Content-Type': contentType }, body: bytes });
      return { status: res.status, body: await res.json() };
    },
    async get(path: string, accept = 'application/fhir+json'): Promise<{ status: number; body: any; bytes: Uint8Array }> {
      const res = await fetch(url(path), { headers: { ...headers, Accept: accept } });
      const bytes = new Uint8Array(await res.arrayBuffer());
      const isJson = /json/.test(res.headers.get('content-type') ?? '');
      return { status: res.status, body: isJson ? JSON.parse(Buffer.from(bytes).toString()) : undefined, bytes };
    },
    /** Every match of a search, following next links. */
    async searchAll<T extends Resource>(query: string): Promise<T[]> {
      const found: T[] = [];
      let next: string | undefined = query;
      while (next !== undefined) {
        const res = await this.get(next);
        assert.equal(res.status, 200, `search ${next}: ${JSON.stringify(res.body)}`);
        const bundle = res.body as Bundle<T>;
        found.push(...(bundle.entry ?? []).map((e) => e.resource as T));
        next = bundle.link?.find((l) => l.relation === 'next')?.url?.slice(url('').length);
      }
      return found;
    },
  };
}

type Client = ReturnType<typeof client>;

/** One write of a random kind; records it only once the 2xx response has been read in full. */
async function writeOnce(api: Client, record: LoadRecord): Promise<void> {
  const kind = Math.random();
  if (kind < 0.1) {
    const marker = randomUUID();
    const patientUrl = `urn:uuid:${randomUUID()}`;
    const identifier = [{ system: TX_SYSTEM, value: marker }];
    const observation = (text: string) => ({
      request: { method: 'POST', url: 'Observation' },
      resource: { resourceType: 'Observation', status: 'final', identifier, code: { text }, subject: { reference: patientUrl } },
    });
    record.sentTransactions.add(marker);
    const res = await api.post('', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: patientUrl, request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', identifier, name: [{ family: 'Tx' }] } },
        observation('lesion diameter'),
        observation('lesion colour'),
      ],
    });
    if (res.status === 200) {
      const ids = (res.body as Bundle).entry?.map((e) => e.resource?.id as string) ?? [];
      record.transactions.push({ marker, patientId: ids[0], observationIds: ids.slice(1) });
    } else {
      record.failures++;
    }
    return;
  }
  if (kind < 0.2) {
    const bytes = randomBytes(4096 + Math.floor(Math.random() * 16384));
    const res = await api.postBytes('Binary', bytes, 'image/jpeg');
    if (res.status === 201) {
      record.binaries.push({ id: res.body.id, sha256: sha256(bytes), size: bytes.length });
    } else {
      record.failures++;
    }
    return;
  }
  const mrn = randomUUID();
  const family = `Durable-${mrn.slice(0, 8)}`;
  const res = await api.post('Patient', { resourceType: 'Patient', identifier: [{ system: CREATE_SYSTEM, value: mrn }], name: [{ family }], birthDate: '1984-02-29' });
  if (res.status === 201) {
    record.creates.push({ id: res.body.id, mrn, family });
  } else {
    record.failures++;
  }
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        await fn(items[next++]);
      }
    })
  );
}

describe('durability of acknowledged writes across SIGKILL (src/main.ts in a child process)', function () {
  this.timeout(60_000);
  let dataDir: string;
  let server: ChildServer | undefined;

  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'dermbridge-durability-'));
  });

  after(async () => {
    await killChild(server);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps every write acknowledged before the kill, complete, and applies no transaction by halves', async () => {
    server = await startChildServer(dataDir, await freePort());
    const loaded = server;
    const api = client(loaded.baseUrl, await demoClientToken(loaded.baseUrl));
    const record: LoadRecord = { creates: [], transactions: [], binaries: [], sentTransactions: new Set(), failures: 0 };

    // Load: WORKERS requests in flight until the server dies; errors after the kill are expected.
    let killed = false;
    let inFlight = 0;
    const workers = Array.from({ length: WORKERS }, async () => {
      while (!killed) {
        inFlight++;
        try {
          await writeOnce(api, record);
        } catch {
          // Connection reset by the kill: the write was never acknowledged.
        } finally {
          inFlight--;
        }
      }
    });
    const killAfterMs = 1000 + Math.floor(Math.random() * 1000);
    await new Promise((r) => setTimeout(r, killAfterMs));
    const inFlightAtKill = inFlight;
    loaded.process.kill('SIGKILL');
    killed = true;
    assert.equal(await loaded.exited, 'SIGKILL');
    await Promise.all(workers);
    const context = `killed after ${killAfterMs} ms with ${inFlightAtKill} in flight; acknowledged ${record.creates.length} creates, ` +
      `${record.transactions.length} transactions, ${record.binaries.length} binaries`;
    assert.equal(record.failures, 0, `writes refused before the kill (${context})`);
    assert.ok(record.creates.length >= 20 && record.transactions.length >= 3, `too little load to prove anything (${context})`);
    assert.ok(inFlightAtKill > 0, `the kill did not land mid-load (${context})`);

    server = await startChildServer(dataDir, await freePort());
    const restarted = client(server.baseUrl, await demoClientToken(server.baseUrl));

    if (process.env.DURABILITY_VERBOSE) {
      console.log(context);
    }
    // Every acknowledged create reads back complete.
    const missing: string[] = [];
    await inParallel(record.creates, 16, async (ack) => {
      const res = await restarted.get(`Patient/${ack.id}`);
      const patient = res.body as Patient;
      if (res.status !== 200 || patient.identifier?.[0]?.value !== ack.mrn || patient.name?.[0]?.family !== ack.family || patient.birthDate !== '1984-02-29') {
        missing.push(`Patient/${ack.id}: ${res.status}`);
      }
    });
    assert.deepEqual(missing, [], `acknowledged Patients lost or incomplete (${context})`);

    // ... and is found by its index entries, exactly once.
    const indexed = await restarted.searchAll<Patient>(`Patient?identifier=${encodeURIComponent(`${CREATE_SYSTEM}|`)}&_count=1000`);
    const indexedIds = new Set(indexed.map((p) => p.id));
    assert.equal(indexedIds.size, indexed.length, 'a Patient is indexed twice');
    assert.deepEqual(record.creates.filter((a) => !indexedIds.has(a.id)).map((a) => a.id), [], `acknowledged Patients missing from search (${context})`);

    // Every acknowledged Binary has its exact bytes.
    const badBinaries: string[] = [];
    await inParallel(record.binaries, 8, async (ack) => {
      const res = await restarted.get(`Binary/${ack.id}`, 'image/jpeg');
      if (res.status !== 200 || res.bytes.length !== ack.size || sha256(res.bytes) !== ack.sha256) {
        badBinaries.push(`Binary/${ack.id}: ${res.status}, ${res.bytes.length} of ${ack.size} bytes`);
      }
    });
    assert.deepEqual(badBinaries, [], `acknowledged Binaries lost or corrupt (${context})`);
    // …and no content file without its Binary: what the kill cut off between file and COMMIT was
    // swept at start-up (every Binary here has one version, so one file each).
    const contentFiles = readdirSync(join(dataDir, 'binary'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && !e.name.startsWith('.'));
    const storedBinaries = (await restarted.get('Binary?_total=accurate&_count=0')).body.total as number;
    assert.equal(contentFiles.length, storedBinaries, `content files without a committed Binary (${context})`);

    // Transactions: all of one or none of it, whether acknowledged or cut off by the kill.
    const txPatients = await restarted.searchAll<Patient>(`Patient?identifier=${encodeURIComponent(`${TX_SYSTEM}|`)}&_count=1000`);
    const txObservations = await restarted.searchAll<Observation>(`Observation?identifier=${encodeURIComponent(`${TX_SYSTEM}|`)}&_count=1000`);
    const byMarker = new Map<string, { patients: Patient[]; observations: Observation[] }>();
    const groupOf = (marker: string) => byMarker.get(marker) ?? byMarker.set(marker, { patients: [], observations: [] }).get(marker)!;
    txPatients.forEach((p) => groupOf(p.identifier?.[0]?.value as string).patients.push(p));
    txObservations.forEach((o) => groupOf(o.identifier?.[0]?.value as string).observations.push(o));
    const halfApplied = [...byMarker].filter(
      ([, g]) => g.patients.length !== 1 || g.observations.length !== 2 || g.observations.some((o) => o.subject?.reference !== `Patient/${g.patients[0]?.id}`)
    );
    assert.deepEqual(halfApplied.map(([marker, g]) => `${marker}: ${g.patients.length} Patient, ${g.observations.length} Observations`), [], `half-applied transactions (${context})`);
    assert.ok([...byMarker.keys()].every((m) => record.sentTransactions.has(m)), 'a transaction appeared that was never sent');

    for (const ack of record.transactions) {
      const group = byMarker.get(ack.marker);
      assert.ok(group, `acknowledged transaction ${ack.marker} lost (${context})`);
      assert.equal(group.patients[0].id, ack.patientId);
      assert.deepEqual(group.observations.map((o) => o.id).sort(), [...ack.observationIds].sort());
    }

    // The restarted server takes new writes.
    const after = await restarted.post('Patient', { resourceType: 'Patient', name: [{ family: 'AfterRestart' }] });
    assert.equal(after.status, 201);
  });
});
