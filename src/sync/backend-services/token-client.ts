/**
 * SMART Backend Services token client: discover the token endpoint, post a `client_credentials`
 * request authenticated by a signed assertion, cache the token and fetch a new one shortly before
 * it expires. Concurrent callers share one in-flight request.
 * https://hl7.org/fhir/smart-app-launch/backend-services.html#obtain-access-token
 */
import { CLIENT_ASSERTION_TYPE } from '../../auth/client-assertion';
import { signClientAssertion } from './client-assertion';
import { signingCandidates, type StoredSyncKey, type SyncKeyAlg } from './sync-keys';

/** Renew this long before expiry, so a token never expires mid-request. */
const REFRESH_MARGIN_SECONDS = 60;

export interface BackendServicesOptions {
  /** The EHR's FHIR base URL (discovery reads `<base>/.well-known/smart-configuration`). */
  readonly fhirBaseUrl: string;
  readonly clientId: string;
  /** Space-separated scopes to request. */
  readonly scope: string;
  readonly alg: SyncKeyAlg;
  /** Loads the current keys (re-read on every token request, so a rotation takes effect). */
  readonly keys: () => readonly StoredSyncKey[];
  /** Skip discovery with a known token endpoint. */
  readonly tokenEndpoint?: string;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

/** The EHR refused our credentials: stable code, the EHR's own reason, and what to check. */
export class BackendAuthError extends Error {
  readonly code = 'ERR_SYNC_AUTH_REJECTED';
  constructor(
    readonly oauthError: string,
    readonly reason: string,
    clientId: string,
    kid: string
  ) {
    super(
      `The EHR refused the sync client's credentials (${oauthError}: ${reason}). ` +
        `Check that client "${clientId}" is registered with our JWKS URL and that key ${kid} has not been revoked; ` +
        'after "dermbridge keys rotate" the EHR must be able to fetch the new keys.'
    );
  }
}

interface CachedToken {
  readonly accessToken: string;
  readonly expiresAt: number;
  readonly scope: string;
}

export class BackendServicesClient {
  private cached?: CachedToken;
  private pending?: Promise<CachedToken>;
  private tokenEndpoint?: string;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly options: BackendServicesOptions) {
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.now = options.now ?? Date.now;
    this.tokenEndpoint = options.tokenEndpoint;
  }

  /** A valid access token, from cache unless it expires within a minute. */
  async accessToken(): Promise<string> {
    if (this.cached && this.cached.expiresAt - REFRESH_MARGIN_SECONDS * 1000 > this.now()) {
      return this.cached.accessToken;
    }
    this.pending ??= this.requestToken().finally(() => {
      this.pending = undefined;
    });
    this.cached = await this.pending;
    return this.cached.accessToken;
  }

  /** Scopes the EHR granted (SMART: use these, not the requested ones). */
  get grantedScope(): string | undefined {
    return this.cached?.scope;
  }

  /** Forget the cached token (after a 401, the EHR may have revoked it). */
  invalidate(): void {
    this.cached = undefined;
  }

  /**
   * Signs with the active key; if the EHR refuses it as `invalid_client` (it may still hold our
   * JWK Set from before a rotation), tries the recently retired keys before giving up.
   */
  private async requestToken(): Promise<CachedToken> {
    const endpoint = await this.discoverTokenEndpoint();
    const candidates = signingCandidates(this.options.keys(), this.options.alg, this.now());
    let firstError: BackendAuthError | undefined;
    for (const key of candidates) {
      try {
        return await this.requestTokenWith(endpoint, key);
      } catch (err) {
        if (!(err instanceof BackendAuthError)) {
          throw err;
        }
        firstError ??= err;
      }
    }
    throw firstError as BackendAuthError;
  }

  private async requestTokenWith(endpoint: string, key: StoredSyncKey): Promise<CachedToken> {
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: this.options.scope,
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      // Signed on the real clock: the EHR checks iat/exp against its own.
      client_assertion: await signClientAssertion(key, this.options.clientId, endpoint),
    });
    const res = await this.fetchImpl(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body,
    }).catch((err: unknown) => {
      throw new Error(`EHR token endpoint ${endpoint} unreachable: ${(err as Error).message}`);
    });
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok || typeof json.access_token !== 'string') {
      if (json.error === 'invalid_client' || res.status === 401) {
        throw new BackendAuthError(String(json.error ?? res.status), String(json.error_description ?? ''), this.options.clientId, key.kid);
      }
      throw new Error(`Token request to ${endpoint} failed: HTTP ${res.status} ${String(json.error ?? '')} ${String(json.error_description ?? '')}`.trim());
    }
    const expiresIn = typeof json.expires_in === 'number' ? json.expires_in : 300;
    return { accessToken: json.access_token, expiresAt: this.now() + expiresIn * 1000, scope: String(json.scope ?? this.options.scope) };
  }

  /**
   * SMART puts discovery at `[fhirBase]/.well-known/smart-configuration`; some servers (the
   * embedded one, Medplum) answer only at the origin's root, so that is tried second.
   */
  private async discoverTokenEndpoint(): Promise<string> {
    if (this.tokenEndpoint) {
      return this.tokenEndpoint;
    }
    const base = this.options.fhirBaseUrl.replace(/\/+$/, '');
    const candidates = [`${base}/.well-known/smart-configuration`, new URL('/.well-known/smart-configuration', base).href];
    for (const url of candidates) {
      const res = await this.fetchImpl(url, { headers: { Accept: 'application/json' } }).catch(() => undefined);
      const config = (await res?.json().catch(() => ({}))) as { token_endpoint?: unknown } | undefined;
      if (res?.ok && typeof config?.token_endpoint === 'string') {
        this.tokenEndpoint = config.token_endpoint;
        return this.tokenEndpoint;
      }
    }
    throw new Error(`SMART discovery failed at ${candidates.join(' and ')}; configure the EHR token endpoint explicitly`);
  }
}
