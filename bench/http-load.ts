import autocannon from 'autocannon';
import type { FhirHttp } from './http-client';
import type { RunResult } from './stats';
import { latencyOf } from './stats';

/** One HTTP request template; `next` fills in what changes per request (unique identifier, id). */
export interface HttpRequestSpec {
  readonly method: 'GET' | 'POST';
  /** Path under /fhir/R4/ for GETs without `next`. */
  readonly path?: string;
  /** Called once per request: the path under /fhir/R4/ and, for POST, the JSON body. */
  readonly next?: () => { path: string; body?: unknown };
  /** Resources written per request (batch and transaction bundles), for resources/s. */
  readonly resourcesPerRequest?: number;
}

export interface LoadOptions {
  readonly connections: number;
  readonly durationSec: number;
}

type ResponseListener = (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void;

/**
 * Runs autocannon against the server: `connections` keep-alive connections, no pipelining, bearer
 * token, for `durationSec`. Latency percentiles are computed from every response time (autocannon's
 * own summary has p97.5 but no p95).
 */
export async function runHttpLoad(http: FhirHttp, spec: HttpRequestSpec, options: LoadOptions): Promise<RunResult> {
  const samples: number[] = [];
  let firstFailure: string | undefined;
  const headers = http.headers();
  const request: autocannon.Request = {
    method: spec.method,
    path: `/fhir/R4/${spec.path ?? ''}`,
    headers,
    setupRequest: (req) => {
      if (!spec.next) {
        return req;
      }
      const { path, body } = spec.next();
      return { ...req, path: `/fhir/R4/${path}`, ...(body === undefined ? {} : { body: JSON.stringify(body) }) };
    },
    onResponse: (status, body) => {
      if ((status < 200 || status >= 300) && firstFailure === undefined) {
        firstFailure = `${status}: ${body.slice(0, 400)}`;
      }
    },
  };
  const result = await new Promise<autocannon.Result>((resolveResult, reject) => {
    const instance = autocannon(
      {
        url: http.baseUrl,
        connections: options.connections,
        pipelining: 1,
        duration: options.durationSec,
        requests: [request],
        timeout: 30,
      },
      (err, res) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolveResult(res))
    );
    (instance as unknown as { on(event: 'response', listener: ResponseListener): void }).on('response', (_c, _s, _b, responseTime) => {
      samples.push(responseTime);
    });
  });
  if (firstFailure !== undefined) {
    process.stdout.write(`    ! first failed response: ${firstFailure}\n`);
  }
  const ok = result['2xx'];
  const seconds = (result.finish.getTime() - result.start.getTime()) / 1000;
  const opsPerSec = ok / seconds;
  return {
    opsPerSec,
    ...(spec.resourcesPerRequest ? { resourcesPerSec: opsPerSec * spec.resourcesPerRequest } : {}),
    latency: latencyOf(samples),
    ops: ok,
    failures: result.non2xx + result.errors,
  };
}
