/**
 * The embedded server's `/oauth2/token` token-exchange grant, shaped as Medplum's
 * (src/auth/external-token-exchange.ts), with a second server playing "Epic" and its OIDC UserInfo
 * endpoint (src/auth/userinfo-endpoint.ts).
 */
import assert from 'node:assert/strict';
import type { AuditEvent, Practitioner } from '@medplum/fhirtypes';
import { decodeJwt } from 'jose';
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT, type ExchangedTokenResponse } from '../../src/auth/external-token-exchange';
import { REVIEW_APP_SCOPE } from '../../smart-launch/server/smart-app-config';
import { EPIC_CLIENT_ID, startEpicAndDermbridge, userInfoUrlOf, type EpicAndDermbridge, type ServedApp } from './second-ehr';

const CASE_SCOPES = REVIEW_APP_SCOPE.split(' ').filter((s) => s.startsWith('user/'));
const SUB_SYSTEM = 'https://epic.example/oauth2/sub';
const EMAIL = 'imani.okafor@riverside.example';

/** A token-endpoint answer: a token, or an OAuth error. */
type TokenAnswer = Partial<ExchangedTokenResponse> & { readonly error?: string; readonly error_description?: string };
const answer = async (res: Response): Promise<TokenAnswer> => (await res.json()) as TokenAnswer;

describe('POST /oauth2/token grant_type=token-exchange (Medplum-style, a second server playing Epic)', function () {
  this.timeout(60_000);
  let servers: EpicAndDermbridge;
  let epicDerm: string;
  let dermDerm: string;
  let stranger: string;

  before(async () => {
    servers = await startEpicAndDermbridge({
      tokenExchangeClients: [
        { clientId: 'exchange-by-email', identitySource: 'email', scopes: CASE_SCOPES, tokenLifetimeSeconds: 300 },
        { clientId: 'exchange-by-sub', identitySource: 'sub', subjectIdentifierSystem: SUB_SYSTEM, scopes: CASE_SCOPES, tokenLifetimeSeconds: 300 },
        { clientId: 'exchange-by-fhiruser', identitySource: 'fhirUser', scopes: CASE_SCOPES, tokenLifetimeSeconds: 300 },
        { clientId: 'exchange-idp-down', identitySource: 'email', scopes: CASE_SCOPES, tokenLifetimeSeconds: 300, userInfoUrl: 'http://127.0.0.1:1/oauth2/userinfo' },
      ],
    });
    epicDerm = await servers.idAt(servers.epic, 'Practitioner', 'prac-derm-1');
    dermDerm = await servers.idAt(servers.derm, 'Practitioner', 'prac-derm-1');
    // The same clinician: her email at both, and at dermbridge Epic's `sub` and `fhirUser` (as a ProjectMembership.externalId would hold them).
    await addToPractitioner(servers.epic, epicDerm, { telecom: [{ system: 'email', value: EMAIL }] });
    await addToPractitioner(servers.derm, dermDerm, {
      telecom: [{ system: 'email', value: EMAIL }],
      identifier: [
        { system: SUB_SYSTEM, value: `Practitioner/${epicDerm}` },
        { system: 'urn:ietf:rfc:3986', value: `${servers.epic.fhirBase}/Practitioner/${epicDerm}` },
      ],
    });
    const outsider = await servers.epic.dermbridge.repo.createResource<Practitioner>({
      resourceType: 'Practitioner',
      name: [{ family: 'Outsider' }],
      telecom: [{ system: 'email', value: 'outsider@riverside.example' }],
    });
    stranger = outsider.id as string;
  });

  after(() => servers?.close());

  async function addToPractitioner(server: ServedApp, id: string, more: Pick<Practitioner, 'telecom' | 'identifier'>): Promise<void> {
    const repo = server.dermbridge.repo;
    const current = await repo.readResource<Practitioner>('Practitioner', id);
    await repo.updateResource<Practitioner>({ ...current, telecom: [...(current.telecom ?? []), ...(more.telecom ?? [])], identifier: [...(current.identifier ?? []), ...(more.identifier ?? [])] });
  }

  /** An access token Epic issued to the review app for a user (what a SMART launch at Epic ends with). */
  async function epicToken(fhirUser: string, scopes = ['openid', 'fhirUser', 'user/Patient.rs']): Promise<string> {
    return (await servers.epic.dermbridge.auth.issueAccessToken({ clientId: EPIC_CLIENT_ID, scopes, fhirUser })).accessToken;
  }

  function exchange(params: Record<string, string>): Promise<Response> {
    return fetch(new URL('oauth2/token', servers.derm.baseUrl), { method: 'POST', body: new URLSearchParams(params) });
  }

  const good = async (clientId: string, more: Record<string, string> = {}) =>
    exchange({ grant_type: TOKEN_EXCHANGE_GRANT, subject_token: await epicToken(`Practitioner/${epicDerm}`), subject_token_type: ACCESS_TOKEN_TYPE, client_id: clientId, ...more });

  function tokenExchangeAudits(since: string, outcome: '0' | '4' | '8'): AuditEvent[] {
    const bundle = servers.derm.dermbridge.audit.search({ since, count: 1000 });
    return (bundle.entry ?? []).map((e) => e.resource as AuditEvent).filter((e) => e.subtype?.[0]?.code === 'token-exchange' && e.outcome === outcome);
  }

  describe('GET /oauth2/userinfo at "Epic" (OIDC Core §5.3)', () => {
    it("says who the bearer is: sub, fhirUser as an absolute URL on Epic's FHIR base, and email", async () => {
      const res = await fetch(userInfoUrlOf(servers.epic.baseUrl), { headers: { authorization: `Bearer ${await epicToken(`Practitioner/${epicDerm}`)}` } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.deepEqual(await res.json(), { sub: `Practitioner/${epicDerm}`, fhirUser: `${servers.epic.fhirBase}/Practitioner/${epicDerm}`, email: EMAIL });
    });

    it('refuses a bad token (401) and a token without openid (403 insufficient_scope), and is announced in discovery', async () => {
      assert.equal((await fetch(userInfoUrlOf(servers.epic.baseUrl), { headers: { authorization: 'Bearer nonsense' } })).status, 401);
      const noOpenId = await fetch(userInfoUrlOf(servers.epic.baseUrl), { headers: { authorization: `Bearer ${await epicToken(`Practitioner/${epicDerm}`, ['user/Patient.rs'])}` } });
      assert.equal(noOpenId.status, 403);
      assert.match(noOpenId.headers.get('www-authenticate') ?? '', /insufficient_scope/);
      const discovery = (await (await fetch(new URL('.well-known/openid-configuration', servers.epic.baseUrl))).json()) as { userinfo_endpoint?: string };
      assert.equal(discovery.userinfo_endpoint, userInfoUrlOf(servers.epic.baseUrl));
    });
  });

  describe('the good path', () => {
    for (const [clientId, source] of [['exchange-by-email', 'email'], ['exchange-by-sub', 'sub'], ['exchange-by-fhiruser', 'fhirUser']]) {
      it(`maps Epic's user by ${source} to the dermbridge Practitioner and issues a dermbridge token for the client's scopes`, async () => {
        const since = new Date().toISOString();
        const res = await good(clientId);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('cache-control'), 'no-store');
        const body = await answer(res);
        assert.equal(body.token_type, 'Bearer');
        assert.equal(body.issued_token_type, ACCESS_TOKEN_TYPE);
        assert.equal(body.expires_in, 300);
        assert.deepEqual(body.profile, { reference: `Practitioner/${dermDerm}` }, "Medplum's answer shape: the user's profile");
        assert.deepEqual(body.scope?.split(' '), CASE_SCOPES);
        const claims = decodeJwt(body.access_token ?? '');
        assert.equal(claims.iss, servers.derm.baseUrl);
        assert.equal(claims.sub, `Practitioner/${dermDerm}`);
        const tasks = await fetch(`${servers.derm.fhirBase}/Task?_count=1`, { headers: { authorization: `Bearer ${body.access_token}` } });
        assert.equal(tasks.status, 200, 'the token works at the case store');
        assert.equal(tokenExchangeAudits(since, '0').length, 1, 'the grant is audited');
      });
    }

    it('is announced in discovery', async () => {
      const discovery = (await (await fetch(new URL('.well-known/smart-configuration', servers.derm.baseUrl))).json()) as { grant_types_supported: string[] };
      assert.ok(discovery.grant_types_supported.includes(TOKEN_EXCHANGE_GRANT));
    });

    it('grants no more than the client allows, and narrows to a requested scope', async () => {
      const narrowed = await answer(await good('exchange-by-email', { scope: 'user/Task.rs user/Organization.cruds' }));
      assert.equal(narrowed.scope, 'user/Task.rs');
    });
  });

  describe('refusals (OAuth error format, audited)', () => {
    async function refused(res: Response, status: number, error: string, description: RegExp): Promise<void> {
      assert.equal(res.status, status);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const body = await answer(res);
      assert.equal(body.error, error);
      assert.match(body.error_description ?? '', description);
      assert.equal(body.access_token, undefined);
    }

    it('an unknown client: 401 invalid_client, audited', async () => {
      const since = new Date().toISOString();
      await refused(await good('no-such-client'), 401, 'invalid_client', /Invalid client/);
      assert.equal(tokenExchangeAudits(since, '4').length, 1);
    });

    it('a subject token Epic refuses at its UserInfo endpoint (401 there): 400 invalid_request, audited', async () => {
      const since = new Date().toISOString();
      await refused(
        await exchange({ grant_type: TOKEN_EXCHANGE_GRANT, subject_token: 'expired-or-forged', subject_token_type: ACCESS_TOKEN_TYPE, client_id: 'exchange-by-email' }),
        400,
        'invalid_request',
        /did not accept the subject_token.*HTTP 401/,
      );
      assert.equal(tokenExchangeAudits(since, '4').length, 1);
    });

    it('a user Epic knows but dermbridge does not: 400 invalid_grant, audited with the EHR user', async () => {
      const since = new Date().toISOString();
      const res = await exchange({ grant_type: TOKEN_EXCHANGE_GRANT, subject_token: await epicToken(`Practitioner/${stranger}`), subject_token_type: ACCESS_TOKEN_TYPE, client_id: 'exchange-by-email' });
      await refused(res, 400, 'invalid_grant', /outsider@riverside\.example is not a dermbridge clinician/);
      const [audit] = tokenExchangeAudits(since, '4');
      assert.match(audit.outcomeDesc ?? '', /outsider@riverside\.example/);
    });

    it('missing or wrong parameters: 400 invalid_request in Medplum\'s words, audited', async () => {
      const since = new Date().toISOString();
      const token = await epicToken(`Practitioner/${epicDerm}`);
      await refused(await exchange({ grant_type: TOKEN_EXCHANGE_GRANT, subject_token: token, subject_token_type: ACCESS_TOKEN_TYPE }), 400, 'invalid_request', /^Invalid client$/);
      await refused(await exchange({ grant_type: TOKEN_EXCHANGE_GRANT, subject_token_type: ACCESS_TOKEN_TYPE, client_id: 'exchange-by-email' }), 400, 'invalid_request', /^Invalid subject_token$/);
      await refused(
        await exchange({ grant_type: TOKEN_EXCHANGE_GRANT, subject_token: token, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token', client_id: 'exchange-by-email' }),
        400,
        'invalid_request',
        /^Invalid subject_token_type$/,
      );
      assert.equal(tokenExchangeAudits(since, '4').length, 3);
    });

    it('an identity provider that does not answer: 503 temporarily_unavailable, audited as a failure', async () => {
      const since = new Date().toISOString();
      await refused(await good('exchange-idp-down'), 503, 'temporarily_unavailable', /did not answer/);
      assert.equal(tokenExchangeAudits(since, '8').length, 1);
    });
  });
});
