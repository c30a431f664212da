/**
 * Intake benchmark (#4): one 3-photo case of 12 MP phone JPEGs, end to end over HTTP against the
 * real server process (`POST /intake/cases`, multipart, bearer token), versus the raw sharp
 * pipeline for the same photos in the same run (bench/intake-raw-pipeline.ts). See bench/README.md.
 *
 *   npm run bench:intake [-- --runs 15] [-- --keep]
 *
 * Target: end to end ≤ 1.15 × raw pipeline. Headline: the median of the pair-by-pair ratios (each
 * submission against the raw run just before it), which drift in the machine's speed moves least;
 * the ratio of the two medians is printed beside it.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import type { CasePhoto } from '../src/intake/case-status';
import { econsultResponse, mrnPatient } from '../test/intake/intake-fixtures';
import { phonePhoto, type PhonePhoto } from './intake-photos';
import { timeRawPipeline } from './intake-raw-pipeline';
import { machineInfo } from './machine';
import { cpuMs, readMemory, ServerProcess, type MemoryUsage } from './server-process';
import { median } from './stats';

const PARTS = ['overview', 'close1', 'close2'] as const;
const say = (line: string): void => {
  process.stdout.write(line + '\n');
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' }, keep: { type: 'boolean', default: false } } });
  const runs = Math.max(1, Number(values.runs));
  const machine = machineInfo();
  say(`${machine.date}  ${machine.nproc} cores (${machine.cpuModel}), node ${machine.node}, load average ${machine.loadAverage.join(' ')}`);

  // Seeded: every run uploads the same bytes. One portrait photo (EXIF Orientation 6), as phones store them.
  const photos = await Promise.all([phonePhoto(1, 6), phonePhoto(2, 1), phonePhoto(3, 1)]);
  say(`photos: 3 × ${photos[0].width}×${photos[0].height} JPEG q94 with EXIF + GPS, ${photos.map((p) => (p.bytes.length / 1e6).toFixed(2)).join(' / ')} MB`);
  const bytes = photos.map((p) => p.bytes);

  const dir = mkdtempSync(join(tmpdir(), 'dermbridge-intake-bench-'));
  say(`server data and log: ${dir}`);
  const server = await ServerProcess.start(dir, join(dir, 'server.log'));
  try {
    const token = await server.token();
    const practitioner = await createPractitioner(server.baseUrl, token);
    const submit = (n: string): Promise<Submitted> => submitCase(server.baseUrl, token, practitioner, bytes, n);

    // Warm-up (JIT, first SQLite pages, sharp's first load) and the check that the case is right.
    await timeRawPipeline(bytes);
    const first = await submit('warm-up');
    await checkStoredCase(server.baseUrl, token, first, photos);
    await server.waitIdle();

    const raw: Sample[] = [];
    const e2e: Sample[] = [];
    for (let i = 0; i < runs; i++) {
      // A B A B: drift in machine speed hits both sides alike. The server finishes its after-commit
      // bot runs before the next raw run, so they never slow the baseline down.
      const cpu0 = process.cpuUsage();
      const rawMs = await timeRawPipeline(bytes);
      const cpu1 = process.cpuUsage(cpu0);
      raw.push({ ms: rawMs, cpuMs: (cpu1.user + cpu1.system) / 1000 });
      const serverCpu0 = cpuMs(server.pid);
      const submitted = await submit(`run-${i}`);
      e2e.push({ ms: submitted.ms, cpuMs: cpuMs(server.pid) - serverCpu0 });
      await server.waitIdle();
      say(`  run ${i + 1}/${runs}: raw ${rawMs.toFixed(0)} ms (CPU ${raw[i].cpuMs.toFixed(0)} ms), end to end ${submitted.ms.toFixed(0)} ms (server CPU ${e2e[i].cpuMs.toFixed(0)} ms)`);
    }
    report(raw, e2e, photos, readMemory(server.pid));
  } finally {
    await server.stop();
    if (!values.keep) {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** One measured run: wall time, and the CPU time it cost (all threads of the process doing the work). */
interface Sample {
  readonly ms: number;
  readonly cpuMs: number;
}

interface Submitted {
  readonly ms: number;
  readonly location: string;
}

async function createPractitioner(baseUrl: string, token: string): Promise<string> {
  const res = await fetch(`${baseUrl}/fhir/R4/Practitioner`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
    body: JSON.stringify({ resourceType: 'Practitioner', name: [{ family: 'Bench', given: ['Referrer'] }] }),
  });
  if (!res.ok) {
    throw new Error(`Practitioner create failed: ${res.status}`);
  }
  return `Practitioner/${((await res.json()) as { id: string }).id}`;
}

/**
 * One e-consult as a referring clinician's system sends it: a new Patient (by MRN), the answers and
 * three photos, with an Idempotency-Key. The multipart body is assembled before the clock starts
 * (it is what curl -F would send); the time is from the first byte sent to the last byte of the
 * 201 answer.
 */
async function submitCase(baseUrl: string, token: string, practitioner: string, photos: readonly Buffer[], name: string): Promise<Submitted> {
  const boundary = `----dermbridge-bench-${randomUUID()}`;
  const response = { ...econsultResponse([...PARTS]), author: { reference: practitioner } };
  const body = multipartBody(boundary, [
    { name: 'questionnaireResponse', type: 'application/json', content: Buffer.from(JSON.stringify(response)) },
    { name: 'patient', type: 'application/json', content: Buffer.from(JSON.stringify(mrnPatient(`BENCH-${name}-${randomUUID()}`))) },
    ...photos.map((content, i) => ({ name: PARTS[i], filename: `IMG_${4711 + i}.jpg`, type: 'image/jpeg', content })),
  ]);
  const t0 = performance.now();
  const res = await fetch(`${baseUrl}/intake/cases`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'idempotency-key': randomUUID(), 'content-type': `multipart/form-data; boundary=${boundary}` },
    body,
  });
  const text = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 201) {
    throw new Error(`submission ${name}: ${res.status} ${text.slice(0, 500)}`);
  }
  return { ms, location: res.headers.get('location') ?? '' };
}

interface Part {
  readonly name: string;
  readonly filename?: string;
  readonly type: string;
  readonly content: Buffer;
}

function multipartBody(boundary: string, parts: readonly Part[]): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const filename = p.filename ? `; filename="${p.filename}"` : '';
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${filename}\r\nContent-Type: ${p.type}\r\n\r\n`), p.content, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/**
 * The benchmark only counts if the server did the whole job: three photos with review copy and
 * thumbnail, the stored original upright and free of EXIF (and so of GPS).
 */
async function checkStoredCase(baseUrl: string, token: string, submitted: Submitted, photos: readonly PhonePhoto[]): Promise<void> {
  const auth = { authorization: `Bearer ${token}` };
  const status = (await (await fetch(`${baseUrl}${submitted.location}`, { headers: auth })).json()) as { photos?: CasePhoto[] };
  const stored = status.photos ?? [];
  if (stored.length !== photos.length || stored.some((p) => !p.image || !p.review || !p.thumbnail || !p.quality)) {
    throw new Error(`expected ${photos.length} photos with review copy, thumbnail and quality; the case has: ${JSON.stringify(stored)}`);
  }
  const expected = `${Math.max(photos[0].width, photos[0].height)}×${Math.min(photos[0].width, photos[0].height)}`;
  for (const p of stored) {
    const id = String(p.image).split('/').pop();
    const res = await fetch(`${baseUrl}/fhir/R4/Binary/${id}`, { headers: { ...auth, accept: 'image/jpeg' } });
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    if (meta.exif || meta.xmp || meta.iptc || (meta.orientation ?? 1) !== 1) {
      throw new Error(`stored original Binary/${id} still carries metadata (EXIF/XMP/IPTC/Orientation)`);
    }
    const w = meta.width ?? 0;
    const h = meta.height ?? 0;
    if (`${Math.max(w, h)}×${Math.min(w, h)}` !== expected) {
      throw new Error(`stored original Binary/${id} is ${meta.width}×${meta.height}, not ${expected}`);
    }
  }
}

function report(raw: readonly Sample[], e2e: readonly Sample[], photos: readonly PhonePhoto[], memory: MemoryUsage): void {
  const r = median(raw.map((x) => x.ms));
  const e = median(e2e.map((x) => x.ms));
  const rCpu = median(raw.map((x) => x.cpuMs));
  const eCpu = median(e2e.map((x) => x.cpuMs));
  // Each submission against the raw run just before it: a slow minute slows both of a pair.
  const ratio = median(e2e.map((x, i) => x.ms / raw[i].ms));
  const mb = photos.reduce((sum, p) => sum + p.bytes.length, 0) / 1e6;
  const list = (xs: readonly Sample[]): string => xs.map((x) => x.ms.toFixed(0)).join(', ');
  say('');
  say(`| 3-photo case, 12 MP JPEGs (${mb.toFixed(1)} MB) | median ms | median CPU ms | runs (ms) |`);
  say('|---|--:|--:|---|');
  say(`| raw sharp pipeline, in-process (baseline) | ${r.toFixed(0)} | ${rCpu.toFixed(0)} | ${list(raw)} |`);
  say(`| POST /intake/cases over HTTP, end to end | ${e.toFixed(0)} | ${eCpu.toFixed(0)} (server) | ${list(e2e)} |`);
  say('');
  say(`end to end ÷ raw pipeline, median of the ${raw.length} pairs: **${ratio.toFixed(2)}×** (target ≤ 1.15×, ${ratio <= 1.15 ? 'met' : 'NOT met'}); ratio of the medians ${(e / r).toFixed(2)}×; CPU ${(eCpu / rCpu).toFixed(2)}×; ${(60_000 / e).toFixed(0)} cases/minute one after another (raw pipeline alone: ${(60_000 / r).toFixed(0)})`);
  say(`server resident memory: ${memory.rssMiB.toFixed(0)} MiB after the runs, peak ${memory.peakRssMiB.toFixed(0)} MiB`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
