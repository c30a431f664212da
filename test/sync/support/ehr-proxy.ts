/**
 * A small express proxy in front of the EHR test server: forwards every request, records it,
 * rewrites the EHR's own URLs in FHIR bodies to the proxy's (so paging stays behind the proxy),
 * answers injected faults (429, 503, malformed JSON, OperationOutcome, looping pages, a corrupted
 * resource), and implements a tiny FHIR Bulk Data `$export` the embedded server lacks.
 */
import express, { type Request, type Response } from 'express';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

export interface Fault {
  /** Which requests it applies to. */
  readonly match: (req: Request) => boolean;
  /** How many times (default 1). */
  times?: number;
  /** Answer instead of the EHR... */
  readonly respond?: (req: Request, res: Response) => void;
  /** Wait this long before forwarding (a slow EHR). */
  readonly delayMs?: number;
  /** ...or forward and transform the EHR's JSON body. */
  readonly transform?: (body: Record<string, unknown>) => unknown;
}

export interface ExportJob {
  /** NDJSON lines per resource type; a generator keeps 100k resources out of memory. */
  readonly files: Record<string, () => AsyncIterable<string> | Iterable<string>>;
}

export interface EhrProxy {
  readonly baseUrl: string;
  readonly fhirBaseUrl: string;
  readonly requests: { method: string; url: string; status: number }[];
  inject(fault: Fault): void;
  clearFaults(): void;
  /** What the next `$export` produces. */
  setExport(job: (req: Request) => ExportJob): void;
  close(): Promise<void>;
}

export async function startEhrProxy(ehrBaseUrl: string): Promise<EhrProxy> {
  const target = ehrBaseUrl.replace(/\/+$/, '');
  const faults: Fault[] = [];
  const requests: EhrProxy['requests'] = [];
  const jobs = new Map<string, { job: ExportJob; polls: number }>();
  let exportJob: ((req: Request) => ExportJob) | undefined;
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const app = express();
  app.use((req, res, next) => {
    res.on('finish', () => requests.push({ method: req.method, url: req.originalUrl, status: res.statusCode }));
    next();
  });
  app.use((req, res, next) => {
    if (req.method !== 'GET' || req.path !== '/fhir/R4/$export') {
      next();
      return;
    }
    if (!req.headers.authorization || !exportJob) {
      res.status(401).json({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] });
      return;
    }
    const id = randomUUID();
    jobs.set(id, { job: exportJob(req), polls: 0 });
    res.status(202).setHeader('Content-Location', `${baseUrl}/bulkstatus/${id}`).end();
  });
  app.get('/bulkstatus/:id', (req, res) => {
    const entry = jobs.get(req.params.id);
    if (!entry) {
      res.status(404).end();
      return;
    }
    if (entry.polls++ === 0) {
      res.status(202).setHeader('X-Progress', 'in progress').end();
      return;
    }
    res.json({
      transactionTime: new Date().toISOString(),
      request: `${baseUrl}/fhir/R4/$export`,
      requiresAccessToken: true,
      output: Object.keys(entry.job.files).map((type) => ({ type, url: `${baseUrl}/bulkfiles/${req.params.id}/${type}.ndjson` })),
      error: [],
    });
  });
  app.get('/bulkfiles/:id/:file', (req, res) => {
    const entry = jobs.get(req.params.id);
    const type = req.params.file.replace(/\.ndjson$/, '');
    const lines = entry?.job.files[type];
    if (!req.headers.authorization || !lines) {
      res.status(req.headers.authorization ? 404 : 401).end();
      return;
    }
    res.type('application/fhir+ndjson');
    Readable.from(withNewlines(lines())).pipe(res);
  });
  app.use(express.raw({ type: () => true, limit: '50mb' }), async (req, res) => {
    const fault = faults.find((f) => f.match(req));
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      if (fault.times <= 0) {
        faults.splice(faults.indexOf(fault), 1);
      }
      if (fault.respond) {
        fault.respond(req, res);
        return;
      }
      if (fault.delayMs) {
        await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      }
    }
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'content-type', 'accept', 'if-none-exist', 'if-match', 'prefer']) {
      const value = req.headers[name];
      if (typeof value === 'string') {
        headers[name] = value;
      }
    }
    const hasBody = Buffer.isBuffer(req.body) && req.body.length > 0;
    const upstream = await fetch(target + req.originalUrl, { method: req.method, headers, body: hasBody ? req.body : undefined });
    let text = await upstream.text();
    if (req.originalUrl.startsWith('/fhir/')) {
      text = text.split(target).join(baseUrl);
      if (fault?.transform && text) {
        text = JSON.stringify(fault.transform(JSON.parse(text) as Record<string, unknown>));
      }
    }
    res.status(upstream.status);
    for (const name of ['content-type', 'location', 'etag', 'last-modified', 'content-location', 'retry-after']) {
      const value = upstream.headers.get(name);
      if (value) {
        res.setHeader(name, name === 'location' || name === 'content-location' ? value.split(target).join(baseUrl) : value);
      }
    }
    res.send(text);
  });
  server.on('request', app);

  return {
    baseUrl: `${baseUrl}/`,
    fhirBaseUrl: `${baseUrl}/fhir/R4`,
    requests,
    inject: (fault) => faults.push(fault),
    clearFaults: () => faults.splice(0, faults.length),
    setExport: (job) => {
      exportJob = job;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function* withNewlines(lines: AsyncIterable<string> | Iterable<string>): AsyncGenerator<string> {
  for await (const line of lines) {
    yield line + '\n';
  }
}

/** A FHIR-ish error response helper for faults. */
export function outcome(status: number, diagnostics: string) {
  return (_req: Request, res: Response): void => {
    res.status(status).type('application/fhir+json').send(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics }] }));
  };
}
