/**
 * The token endpoint's `urn:ietf:params:oauth:grant-type:token-exchange` grant, as Medplum
 * implements it (packages/server/src/oauth/token.ts `exchangeExternalAuthToken`,
 * https://www.medplum.com/docs/auth/token-exchange): an EHR's access token (`subject_token`,
 * `subject_token_type=...:access_token`) and the `client_id` of a client configured with that EHR's
 * UserInfo endpoint; no client secret (the app is a public browser client). The UserInfo endpoint,
 * called with the subject token, says who the user is; the user is mapped to a case-store
 * Practitioner (email, `sub`, or `fhirUser`) and gets an access token for the scopes configured for
 * that client. So the review app exchanges the same way whether the case store is a real Medplum
 * or this embedded server. Errors: RFC 6749 §5.2 / RFC 8693 §2.2.2; every outcome is audited.
 * https://www.rfc-editor.org/rfc/rfc8693#section-2.1
 */
import type { Logger } from 'pino';
import type { AuditSink } from '../audit/audit-entry';
import type { EhrTokenExchange, SmartEhr } from '../config/config';
import type { AccessTokenGrant, IssuedAccessToken } from './access-token';
import type { PractitionerLookup } from './fhir-user-directory';
import { OAuthError } from './oauth-error';
import { PROJECT_REFERENCE } from './project';
import { grantScopes } from './scope-grant';
import { recordRefusedExchange } from './token-exchange-refusal';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const USERINFO_TIMEOUT_MS = 5_000;
const URI_IDENTIFIER_SYSTEM = 'urn:ietf:rfc:3986';

export interface ExternalTokenExchangeDeps {
  readonly ehrs: readonly SmartEhr[];
  readonly directory: PractitionerLookup;
  readonly issueAccessToken: (grant: AccessTokenGrant) => Promise<IssuedAccessToken>;
  readonly audit?: AuditSink;
  readonly logger?: Pick<Logger, 'info' | 'warn'>;
  readonly fetchImpl?: typeof fetch;
}

/** Medplum's token response for an exchange (minus its id and refresh tokens), plus RFC 8693's `issued_token_type`. */
export interface ExchangedTokenResponse {
  readonly access_token: string;
  readonly issued_token_type: typeof ACCESS_TOKEN_TYPE;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly scope: string;
  readonly project: { readonly reference: string; readonly display: string };
  readonly profile: { readonly reference: string };
}

type Params = Readonly<Record<string, string | undefined>>;
type ExchangeClient = EhrTokenExchange & { readonly userInfoUrl: string };

export type ExternalTokenExchange = (params: Params, sourceAddress: string | undefined) => Promise<ExchangedTokenResponse>;

/** What is known of a refused caller, for the audit trail. */
interface Attempt {
  ehr?: SmartEhr;
  clientId?: string;
  user?: string;
}

export function createExternalTokenExchange(deps: ExternalTokenExchangeDeps): ExternalTokenExchange {
  return async (params, sourceAddress) => {
    const attempt: Attempt = {};
    try {
      return await exchange(deps, params, attempt);
    } catch (err) {
      if (!(err instanceof OAuthError)) {
        throw err;
      }
      await recordRefusedExchange(deps.audit, deps.logger, {
        refusal: err,
        ehrName: attempt.ehr?.name,
        agent: 'Device/unknown',
        clientId: attempt.clientId ?? params.client_id ?? '',
        detail: attempt.user ? ` (EHR user ${attempt.user})` : undefined,
        sourceAddress,
      });
      throw err;
    }
  };
}

async function exchange(deps: ExternalTokenExchangeDeps, params: Params, attempt: Attempt): Promise<ExchangedTokenResponse> {
  // Medplum's checks, in its order and words.
  if (!params.client_id) {
    throw new OAuthError('invalid_request', 'Invalid client');
  }
  if (!params.subject_token) {
    throw new OAuthError('invalid_request', 'Invalid subject_token');
  }
  if (params.subject_token_type !== ACCESS_TOKEN_TYPE) {
    throw new OAuthError('invalid_request', 'Invalid subject_token_type');
  }
  const ehr = deps.ehrs.find((e) => e.tokenExchange?.clientId === params.client_id && e.tokenExchange?.userInfoUrl !== undefined);
  if (!ehr) {
    throw new OAuthError('invalid_client', `Invalid client: ${params.client_id} is not configured for token exchange`);
  }
  attempt.ehr = ehr;
  attempt.clientId = params.client_id;
  const client = ehr.tokenExchange as ExchangeClient;

  const userInfo = await fetchUserInfo(client.userInfoUrl, params.subject_token, ehr.name, deps.fetchImpl ?? fetch);
  const fhirUser = await mapUser(deps, ehr, client, userInfo, attempt);

  const scopes = grantScopes((params.scope ?? '').split(' ').filter(Boolean), client.scopes);
  if (scopes.length === 0) {
    throw new OAuthError('invalid_scope', `None of the requested scopes is allowed for client ${client.clientId}`);
  }
  const issued = await deps.issueAccessToken({ clientId: client.clientId, scopes, fhirUser, lifetimeSeconds: client.tokenLifetimeSeconds });
  deps.logger?.info({ ehr: ehr.name, fhirUser, tokenId: issued.tokenId }, 'access token issued by token exchange');
  await deps.audit?.record({
    action: 'E',
    interaction: 'token-exchange',
    outcome: '0',
    outcomeDesc: `${ehr.name} user ${attempt.user} as ${fhirUser}`,
    agent: fhirUser,
    clientId: client.clientId,
    tokenId: issued.tokenId,
    entities: [fhirUser],
    patients: [],
  });
  return {
    access_token: issued.accessToken,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: 'Bearer',
    expires_in: issued.expiresIn,
    scope: issued.scope,
    project: PROJECT_REFERENCE,
    profile: { reference: fhirUser },
  };
}

/**
 * OIDC UserInfo with the subject token as the bearer (OIDC Core §5.3.1): a refusal means the token
 * is not valid at its issuer (RFC 8693 §2.2.2: `invalid_request`); an outage is 503.
 */
async function fetchUserInfo(url: string, token: string, ehrName: string, fetchImpl: typeof fetch): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetchImpl(url, { headers: { accept: 'application/json', authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(USERINFO_TIMEOUT_MS), redirect: 'error' });
  } catch {
    throw new OAuthError('temporarily_unavailable', `${ehrName}'s UserInfo endpoint did not answer`, false, 503);
  }
  if (res.status === 429 || res.status >= 500) {
    throw new OAuthError('temporarily_unavailable', `${ehrName}'s UserInfo endpoint answered ${res.status}`, false, 503);
  }
  if (res.status !== 200) {
    throw new OAuthError('invalid_request', `${ehrName} did not accept the subject_token at its UserInfo endpoint (HTTP ${res.status})`);
  }
  const body: unknown = await res.json().catch(() => undefined);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new OAuthError('invalid_request', `${ehrName}'s UserInfo endpoint answered no JSON object`);
  }
  return body as Record<string, unknown>;
}

/** The one case-store Practitioner the UserInfo claims name, by the client's identity source. */
async function mapUser(deps: ExternalTokenExchangeDeps, ehr: SmartEhr, client: ExchangeClient, userInfo: Record<string, unknown>, attempt: Attempt): Promise<string> {
  const claim = userInfo[client.identitySource];
  if (typeof claim !== 'string' || claim === '') {
    throw new OAuthError('invalid_request', `${ehr.name}'s UserInfo has no ${client.identitySource} claim`);
  }
  attempt.user = claim;
  const query =
    client.identitySource === 'email'
      ? `email=${encodeURIComponent(claim.toLowerCase())}`
      : client.identitySource === 'sub'
        ? `identifier=${encodeURIComponent(`${client.subjectIdentifierSystem}|${claim}`)}`
        : `identifier=${encodeURIComponent(`${URI_IDENTIFIER_SYSTEM}|${absoluteFhirUser(ehr.issuer, claim)}`)}`;
  const ids = await deps.directory.findPractitionerIds(query);
  if (ids.length === 0) {
    throw new OAuthError('invalid_grant', `${ehr.name} user ${claim} is not a dermbridge clinician (no Practitioner with ${decodeURIComponent(query)})`);
  }
  if (ids.length > 1) {
    throw new OAuthError('invalid_grant', `${ehr.name} user ${claim} matches several dermbridge Practitioners`);
  }
  return `Practitioner/${ids[0]}`;
}

/** SMART's `fhirUser` may be relative to the EHR's FHIR base; the identifier holds the absolute URL. */
function absoluteFhirUser(ehrFhirBase: string, fhirUser: string): string {
  return /^https?:\/\//.test(fhirUser) ? fhirUser : `${ehrFhirBase.replace(/\/+$/, '')}/${fhirUser}`;
}
