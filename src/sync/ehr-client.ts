/**
 * The EHR side of sync: `fhir-kit-client` with a SMART Backend Services token, plus the failure
 * handling an interface engineer needs from a real EHR: 429/502/503/504 and network errors are
 * retried with exponential backoff (honouring `Retry-After`), a 401 fetches a new token once, and
 * malformed JSON or an OperationOutcome become an `EhrError` with a stable code.
 */
import type { Client } from 'fhir-kit-client';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { BackendServicesClient } from './backend-services/token-client';

export type EhrErrorCode = 'ERR_EHR_MALFORMED_JSON' | 'ERR_EHR_OPERATION_OUTCOME' | 'ERR_EHR_HTTP' | 'ERR_EHR_UNAVAILABLE' | 'ERR_EHR_PAGING_LOOP';

export class EhrError extends Error {
  constructor(
    readonly code: EhrErrorCode,
    message: string,
    readonly status?: number
  ) {
    super(message);
  }
}

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 30_000 };

export interface EhrClientOptions {
  readonly fhirBaseUrl: string;
  readonly tokens: BackendServicesClient;
  readonly retry?: RetryPolicy;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Told about each retry (logs, CLI). */
  readonly onRetry?: (info: { url: string; status?: number; attempt: number; delayMs: number }) => void;
}

export interface EhrResponse<T = Resource> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

const RETRYABLE = new Set([429, 502, 503, 504]);

export class EhrClient {
  private constructor(
    private readonly kit: Client,
    private readonly httpFor: (typeof Client)['httpFor'],
    private readonly options: EhrClientOptions
  ) {}

  /** fhir-kit-client 2 is ESM-only; loaded with a dynamic import from our CommonJS build. */
  static async create(options: EhrClientOptions): Promise<EhrClient> {
    const { Client: FhirKitClient } = await import('fhir-kit-client');
    return new EhrClient(new FhirKitClient({ baseUrl: options.fhirBaseUrl.replace(/\/+$/, '') }), FhirKitClient.httpFor, options);
  }

  get baseUrl(): string {
    return this.kit.baseUrl;
  }

  async get<T = Resource>(url: string, headers: Record<string, string> = {}): Promise<EhrResponse<T>> {
    return this.request<T>('GET', url, headers);
  }

  async post<T = Resource>(url: string, body: unknown, headers: Record<string, string> = {}): Promise<EhrResponse<T>> {
    return this.request<T>('POST', url, { 'content-type': 'application/fhir+json', ...headers }, body);
  }

  async request<T>(method: string, url: string, headers: Record<string, string>, body?: unknown): Promise<EhrResponse<T>> {
    const retry = this.options.retry ?? DEFAULT_RETRY;
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    let refreshedToken = false;
    for (let attempt = 1; ; attempt++) {
      this.kit.bearerToken = await this.options.tokens.accessToken();
      try {
        const data = await this.kit.request(url, { method: method as 'GET', options: { headers: { accept: 'application/fhir+json', ...headers } }, body });
        const { response } = this.httpFor(data);
        return { status: response?.status ?? 200, body: checkBody<T>(data, url), headers: response?.headers ?? new Headers() };
      } catch (err) {
        const failure = classify(err, url);
        if (failure.status === 401 && !refreshedToken) {
          refreshedToken = true;
          this.options.tokens.invalidate();
          continue;
        }
        if (!failure.retryable || attempt >= retry.maxAttempts) {
          throw failure.error;
        }
        const delayMs = failure.retryAfterMs ?? Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
        this.options.onRetry?.({ url, status: failure.status, attempt, delayMs });
        await sleep(delayMs);
      }
    }
  }
}

function checkBody<T>(data: unknown, url: string): T {
  const resource = data as Resource;
  if (resource?.resourceType === 'OperationOutcome' && (resource as OperationOutcome).issue?.some((i) => i.severity === 'error' || i.severity === 'fatal')) {
    throw new EhrError('ERR_EHR_OPERATION_OUTCOME', `EHR answered ${url} with an OperationOutcome: ${outcomeText(resource as OperationOutcome)}`);
  }
  return data as T;
}

interface Failure {
  readonly error: Error;
  readonly retryable: boolean;
  readonly status?: number;
  readonly retryAfterMs?: number;
}

function classify(err: unknown, url: string): Failure {
  if (err instanceof EhrError) {
    return { error: err, retryable: false };
  }
  const e = err as { response?: { status?: number; data?: unknown }; config?: { headers?: Headers }; message?: string };
  const status = e.response?.status;
  if (status === undefined) {
    // fetch failed: connection refused or reset. The EHR may be restarting.
    return { error: new EhrError('ERR_EHR_UNAVAILABLE', `EHR unreachable at ${url}: ${e.message ?? String(err)}`), retryable: true };
  }
  const data = e.response?.data;
  const retryAfterMs = parseRetryAfter(e.config?.headers?.get?.('retry-after') ?? null);
  if (RETRYABLE.has(status)) {
    return { error: new EhrError('ERR_EHR_UNAVAILABLE', `EHR answered HTTP ${status} for ${url} (gave up after retries)`, status), retryable: true, status, retryAfterMs };
  }
  if (typeof data === 'string' && status < 400) {
    return { error: new EhrError('ERR_EHR_MALFORMED_JSON', `EHR answered ${url} with a body that is not JSON: ${data.slice(0, 80)}`, status), retryable: false, status };
  }
  const detail =
    (data as Resource | undefined)?.resourceType === 'OperationOutcome' ? outcomeText(data as OperationOutcome) : typeof data === 'string' ? data.slice(0, 200) : JSON.stringify(data).slice(0, 200);
  const code = (data as Resource | undefined)?.resourceType === 'OperationOutcome' ? 'ERR_EHR_OPERATION_OUTCOME' : 'ERR_EHR_HTTP';
  return { error: new EhrError(code, `EHR answered HTTP ${status} for ${url}: ${detail}`, status), retryable: false, status };
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value) {
    return undefined;
  }
  const seconds = Number(value);
  if (Number.isFinite(seconds)) {
    return Math.max(0, seconds * 1000);
  }
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export function outcomeText(outcome: OperationOutcome): string {
  return (outcome.issue ?? []).map((i) => i.diagnostics ?? i.details?.text ?? i.code).join('; ');
}
