/**
 * `GET|POST /oauth2/authorize`: the authorization-code grant for SMART apps, with PKCE S256
 * required, `state` echoed, `aud` checked against our FHIR base, and an EHR `launch` resolved to
 * the launch context stored server-side.
 * https://hl7.org/fhir/smart-app-launch/app-launch.html#obtain-authorization-code
 * https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1 (errors go back to a *verified* redirect URI only)
 *
 * SECURITY: this is the development EHR. There is no login screen: an EHR launch is trusted to
 * carry the user the `/ehr` picker chose, and a standalone launch shows a picker of demo users. It
 * is mounted only when `smart.devEhr` is on (default: only with demo data); a production
 * deployment uses the real EHR's (or Medplum's) authorization server.
 */
import type { RequestHandler, Response } from 'express';
import type { LaunchContext, AuthorizationStore } from './authorization-store';
import type { ClientRegistry, OAuthClient } from './client-registry';
import { isValidCodeChallenge } from './pkce';
import { grantScopes } from './scope-grant';

/** People the development sign-in page offers. */
export interface UserDirectory {
  practitioners(): Promise<readonly DirectoryEntry[]>;
  patients(): Promise<readonly DirectoryEntry[]>;
}

export interface DirectoryEntry {
  /** `Practitioner/<id>` or a bare patient id. */
  readonly id: string;
  readonly display: string;
}

export interface AuthorizeEndpointDeps {
  readonly clients: ClientRegistry;
  readonly store: AuthorizationStore;
  readonly directory: UserDirectory;
  /** Our FHIR base URL: the only acceptable `aud`. */
  readonly fhirBaseUrl: string;
  readonly codeLifetimeSeconds: number;
}

type Params = Record<string, string | undefined>;

/** A valid request, ready to issue a code once the user is known. */
interface CheckedRequest {
  readonly client: OAuthClient;
  readonly redirectUri: string;
  readonly state: string;
  readonly scopes: string[];
  readonly codeChallenge: string;
  readonly nonce?: string;
  readonly launchContext?: LaunchContext;
}

class AuthorizeError extends Error {
  constructor(
    readonly error: 'invalid_request' | 'unauthorized_client' | 'unsupported_response_type' | 'invalid_scope' | 'access_denied',
    readonly description: string,
  ) {
    super(description);
  }
}

export function createAuthorizeHandler(deps: AuthorizeEndpointDeps): RequestHandler {
  return async (req, res) => {
    const params = { ...(req.query as Params), ...(req.method === 'POST' ? (req.body as Params) : {}) };
    const target = verifiedRedirect(deps, params);
    if (typeof target === 'string') {
      // Unknown client or unregistered redirect URI: never redirect (open-redirector risk).
      sendPage(res, 400, 'Authorization request refused', `<p>${escapeHtml(target)}</p>`);
      return;
    }
    try {
      const checked = checkRequest(deps, params, target.client, target.redirectUri);
      const context = checked.launchContext ?? (req.method === 'POST' ? await signedInContext(deps, params, checked) : undefined);
      if (context === undefined) {
        await sendSignInPage(res, deps, params, checked);
        return;
      }
      const code = deps.store.issueCode(
        {
          clientId: checked.client.clientId,
          redirectUri: checked.redirectUri,
          scopes: checked.scopes,
          context,
          codeChallenge: checked.codeChallenge,
          nonce: checked.nonce,
        },
        deps.codeLifetimeSeconds,
      );
      redirectTo(res, checked.redirectUri, { code, state: checked.state });
    } catch (err) {
      if (!(err instanceof AuthorizeError)) {
        throw err;
      }
      redirectTo(res, target.redirectUri, { error: err.error, error_description: err.description, state: params.state });
    }
  };
}

function verifiedRedirect(deps: AuthorizeEndpointDeps, params: Params): { client: OAuthClient; redirectUri: string } | string {
  const client = params.client_id === undefined ? undefined : deps.clients.findClient(params.client_id);
  if (!client) {
    return `Unknown client_id "${params.client_id ?? ''}".`;
  }
  const registered = client.redirectUris ?? [];
  const redirectUri = params.redirect_uri ?? (registered.length === 1 ? registered[0] : undefined);
  if (redirectUri === undefined || !registered.includes(redirectUri)) {
    return `redirect_uri "${params.redirect_uri ?? ''}" is not registered for client ${client.clientId}.`;
  }
  return { client, redirectUri };
}

function checkRequest(deps: AuthorizeEndpointDeps, params: Params, client: OAuthClient, redirectUri: string): CheckedRequest {
  if (params.response_type !== 'code') {
    throw new AuthorizeError('unsupported_response_type', 'response_type must be code');
  }
  // SMART 2.2: state is required and must carry at least 122 bits; we can only check presence and length.
  if (!params.state || params.state.length < 16) {
    throw new AuthorizeError('invalid_request', 'state is required (at least 122 bits of entropy)');
  }
  if (params.code_challenge_method !== 'S256' || !params.code_challenge || !isValidCodeChallenge(params.code_challenge)) {
    throw new AuthorizeError('invalid_request', 'PKCE is required: code_challenge_method=S256 with a base64url SHA-256 code_challenge');
  }
  if (params.aud === undefined || stripSlash(params.aud) !== stripSlash(deps.fhirBaseUrl)) {
    throw new AuthorizeError('invalid_request', `aud must be this server's FHIR base URL ${deps.fhirBaseUrl}`);
  }
  const requested = (params.scope ?? '').split(' ').filter(Boolean);
  const scopes = grantScopes(requested, client.scopes);
  if (requested.length === 0 || scopes.length === 0) {
    throw new AuthorizeError('invalid_scope', `None of the requested scopes is allowed for client ${client.clientId}`);
  }
  let launchContext: LaunchContext | undefined;
  if (params.launch !== undefined) {
    launchContext = deps.store.resolveLaunch(params.launch);
    if (!launchContext) {
      throw new AuthorizeError('invalid_request', 'Unknown or expired launch; launch the app again from the EHR');
    }
  }
  return { client, redirectUri, state: params.state, scopes, codeChallenge: params.code_challenge, nonce: params.nonce, launchContext };
}

/** The development sign-in form's answer: the chosen practitioner, and patient if one was asked for. */
async function signedInContext(deps: AuthorizeEndpointDeps, params: Params, checked: CheckedRequest): Promise<LaunchContext | undefined> {
  if (params.dev_deny === 'deny') {
    throw new AuthorizeError('access_denied', 'The user denied the request');
  }
  const practitioners = await deps.directory.practitioners();
  const user = practitioners.find((p) => p.id === params.dev_user);
  if (!user) {
    return undefined;
  }
  const wantsPatient = checked.scopes.includes('launch/patient');
  const patients = wantsPatient ? await deps.directory.patients() : [];
  const patient = patients.find((p) => p.id === params.dev_patient);
  return { fhirUser: user.id, patientId: patient?.id, needPatientBanner: true };
}

async function sendSignInPage(res: Response, deps: AuthorizeEndpointDeps, params: Params, checked: CheckedRequest): Promise<void> {
  const practitioners = await deps.directory.practitioners();
  const patients = checked.scopes.includes('launch/patient') ? await deps.directory.patients() : [];
  const hidden = Object.entries(params)
    .filter(([name]) => !name.startsWith('dev_'))
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value ?? '')}">`)
    .join('');
  const options = (entries: readonly DirectoryEntry[]) =>
    entries.map((e) => `<option value="${escapeHtml(e.id)}">${escapeHtml(e.display)}</option>`).join('');
  const patientPicker =
    patients.length === 0
      ? ''
      : `<label>Patient <select name="dev_patient"><option value="">No patient: the whole queue</option>${options(patients)}</select></label>`;
  const body = `<p>Development sign-in for <strong>${escapeHtml(checked.client.name ?? checked.client.clientId)}</strong>.
    There is no password here: this server is playing the EHR for development.</p>
    <form method="post" action="authorize">${hidden}
      <p><label>Sign in as <select name="dev_user">${options(practitioners)}</select></label></p>
      <p>${patientPicker}</p>
      <p><button type="submit" name="dev_allow" value="allow">Sign in and allow</button>
         <button type="submit" name="dev_deny" value="deny">Deny</button></p>
      <p>Scopes: <code>${escapeHtml(checked.scopes.join(' '))}</code></p>
    </form>`;
  sendPage(res, 200, 'Sign in (development EHR)', body);
}

function redirectTo(res: Response, redirectUri: string, params: Record<string, string | undefined>): void {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) {
      url.searchParams.set(name, value);
    }
  }
  res.redirect(302, url.href);
}

function sendPage(res: Response, status: number, title: string, body: string): void {
  res.status(status).type('html').send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`);
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}
