/**
 * Is the case store answering? Production's `/healthcheck` asks Medplum's own `GET /healthcheck`
 * (which checks its Postgres and Redis), so an orchestrator sees dermbridge as unhealthy while the
 * store it cannot work without is down.
 */

/** Long enough for a loaded Medplum, short enough for docker-compose's 5 s health-check timeout. */
export const STORE_HEALTH_TIMEOUT_MS = 3_000;

export interface StoreHealth {
  readonly ok: boolean;
  /** Why not, when not ok: the HTTP status or the connection error. */
  readonly reason?: string;
}

export async function checkStoreHealth(storeBaseUrl: string, fetchImpl: typeof fetch = globalThis.fetch, timeoutMs = STORE_HEALTH_TIMEOUT_MS): Promise<StoreHealth> {
  try {
    const res = await fetchImpl(new URL('healthcheck', storeBaseUrl), { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    const body = (await res.json().catch(() => undefined)) as { ok?: unknown } | undefined;
    if (!res.ok || body?.ok !== true) {
      return { ok: false, reason: `GET ${storeBaseUrl}healthcheck answered ${res.status}${body?.ok === false ? ' (ok: false)' : ''}` };
    }
    return { ok: true };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { ok: false, reason: `GET ${storeBaseUrl}healthcheck failed: ${e.cause?.code ?? e.name}: ${e.message}` };
  }
}

/**
 * `/healthcheck` is public and orchestrators poll it: one check of the store at a time, and its
 * answer reused for `ttlMs`, so a flood of health checks never becomes a flood against Medplum.
 */
export function cachedStoreHealth(check: () => Promise<StoreHealth>, ttlMs = STORE_HEALTH_TTL_MS, now: () => number = Date.now): () => Promise<StoreHealth> {
  let last: { at: number; health: StoreHealth } | undefined;
  let inFlight: Promise<StoreHealth> | undefined;
  return () => {
    if (last && now() - last.at < ttlMs) {
      return Promise.resolve(last.health);
    }
    inFlight ??= check().then((health) => {
      last = { at: now(), health };
      inFlight = undefined;
      return health;
    });
    return inFlight;
  };
}

/** Short: an orchestrator should see the store go down within a poll or two. */
export const STORE_HEALTH_TTL_MS = 1_000;
