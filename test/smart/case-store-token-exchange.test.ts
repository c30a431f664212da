import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import type { AuditEvent, Practitioner, Patient } from '@medplum/fhirtypes';
import { decodeJwt, SignJWT } from 'jose';
import { ID_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT, patientBound } from '../../src/auth/case-store-token-exchange';
import { ConfigError, loadConfig } from '../../src/config/load-config';
import { EPIC_CLIENT_ID, startEpicAndDermbridge, UNREACHABLE_EHR_ISSUER, type EpicAndDermbridge } from './second-ehr';
import { newState, pkcePair } from './smart-auth-app';

interface EhrLogin {
  readonly access_token: string;
  readonly id_token: string;
  readonly patient?: string;
  readonly fhirUser: string;
}

describe('POST /smart/case-store-token (EHR token exchange, a second server playing Epic)', function () {
  this.timeout(60_000);
  let servers: EpicAndDermbridge;
  let epicDerm: string; // Epic's id of the demo dermatologist
  let epicMaria: string;
  let dermDerm: string; // dermbridge's id of the same person
  let dermMaria: string;

  before(async () => {
    servers = await startEpicAndDermbridge({ demoCases: true, unreachableEhr: true });
    epicDerm = await servers.idAt(servers.epic, 'Practitioner', 'prac-derm-1');
    epicMaria = await servers.idAt(servers.epic, 'Patient', 'pat-1');
    dermDerm = await servers.idAt(servers.derm, 'Practitioner', 'prac-derm-1');
    dermMaria = await servers.idAt(servers.derm, 'Patient', 'pat-1');
  });

  after(() => servers?.close());

  /** A complete SMART EHR launch at "Epic": launch → authorize (PKCE) → code → tokens with an id_token. */
  async function loginAtEpic(fhirUser: string, patientId?: string): Promise<EhrLogin> {
    const { epic, derm } = servers;
    const launch = epic.dermbridge.auth.createLaunch({ fhirUser, patientId, needPatientBanner: true });
    const { verifier, challenge } = pkcePair();
    const redirectUri = new URL('smart/index.html', derm.baseUrl).href;
    const authorize = new URL('oauth2/authorize', epic.baseUrl);
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: EPIC_CLIENT_ID,
      redirect_uri: redirectUri,
      scope: 'openid fhirUser launch offline_access user/Patient.rs user/Practitioner.rs',
      state: newState(),
      aud: epic.fhirBase,
      launch,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }).toString();
    const redirect = await fetch(authorize, { redirect: 'manual' });
    const code = new URL(redirect.headers.get('location') ?? '').searchParams.get('code');
    assert.ok(code, 'Epic issued a code');
    const res = await fetch(new URL('oauth2/token', epic.baseUrl), {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier, client_id: EPIC_CLIENT_ID }),
    });
    assert.equal(res.status, 200);
    return (await res.json()) as EhrLogin;
  }

  async function exchange(params: Record<string, string | undefined>): Promise<{ status: number; body: Record<string, string> }> {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined) form.set(name, value);
    }
    const res = await fetch(new URL('smart/case-store-token', servers.derm.baseUrl), { method: 'POST', body: form });
    assert.equal(res.headers.get('cache-control'), 'no-store');
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  }

  const exchangeParams = (login: { id_token: string; access_token: string; patient?: string }, extra: Record<string, string | undefined> = {}) => ({
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: login.id_token,
    subject_token_type: ID_TOKEN_TYPE,
    ehr_access_token: login.access_token,
    ehr: servers.epic.fhirBase,
    patient: login.patient,
    ...extra,
  });

  /** An id_token as Epic's key would sign it, with some claim changed. */
  async function epicIdToken(claims: { iss?: string; aud?: string; exp?: number; fhirUser?: string; sub?: string }, key = servers.epic.dermbridge.auth.keys.privateKey): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const fhirUser = claims.fhirUser ?? `Practitioner/${epicDerm}`;
    return new SignJWT({ fhirUser })
      .setProtectedHeader({ alg: 'ES256', kid: servers.epic.dermbridge.auth.keys.kid, typ: 'JWT' })
      .setIssuer(claims.iss ?? servers.epic.baseUrl)
      .setAudience(claims.aud ?? EPIC_CLIENT_ID)
      .setSubject(claims.sub ?? fhirUser)
      .setIssuedAt(now - 60)
      .setExpirationTime(claims.exp ?? now + 300)
      .sign(key);
  }

  const epicAccessToken = async (fhirUser = `Practitioner/${epicDerm}`) =>
    (await servers.epic.dermbridge.auth.issueAccessToken({ clientId: EPIC_CLIENT_ID, scopes: ['user/Practitioner.rs', 'user/Patient.rs'], fhirUser })).accessToken;

  async function refusalsAudited(since: string): Promise<AuditEvent[]> {
    const bundle = servers.derm.dermbridge.audit.search({ since, count: 1000 });
    return (bundle.entry ?? []).map((e) => e.resource as AuditEvent).filter((e) => e.subtype?.[0]?.code === 'token-exchange' && e.outcome === '4');
  }

  async function assertRefused(params: Record<string, string | undefined>, error: string, description: RegExp): Promise<void> {
    const since = new Date(Date.now() - 1000).toISOString();
    const before = (await refusalsAudited(since)).length;
    const { status, body } = await exchange(params);
    assert.equal(body.error, error, JSON.stringify(body));
    assert.equal(status, error === 'invalid_client' ? 401 : 400);
    assert.match(body.error_description, description);
    assert.equal(body.access_token, undefined);
    const after = await refusalsAudited(since);
    assert.equal(after.length, before + 1, 'the refusal is audited');
    assert.match(after[0].outcomeDesc ?? '', new RegExp(error));
  }

  describe('the good path', () => {
    it("Epic's own launch yields an id_token signed with keys Epic publishes at its jwks_uri, for our client at Epic", async () => {
      const login = await loginAtEpic(`Practitioner/${epicDerm}`);
      const claims = decodeJwt(login.id_token);
      assert.equal(claims.iss, servers.epic.baseUrl);
      assert.equal(claims.aud, EPIC_CLIENT_ID);
      assert.equal(claims.fhirUser, `Practitioner/${epicDerm}`);
      const openId = (await (await fetch(new URL('.well-known/openid-configuration', servers.epic.baseUrl))).json()) as { jwks_uri: string };
      const jwks = (await (await fetch(openId.jwks_uri)).json()) as { keys: { kid: string }[] };
      assert.ok(jwks.keys.some((k) => k.kid === servers.epic.dermbridge.auth.keys.kid));
    });

    it('a clinician launched without a patient gets a short-lived user-level token as the dermbridge Practitioner with the same identifier', async () => {
      const login = await loginAtEpic(`Practitioner/${epicDerm}`);
      const { status, body } = await exchange(exchangeParams(login));
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.token_type, 'Bearer');
      assert.equal(body.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
      assert.equal(body.fhirUser, `Practitioner/${dermDerm}`);
      assert.notEqual(dermDerm, epicDerm, 'the two servers gave the same person different ids');
      assert.equal(body.patient, undefined);
      assert.equal(Number(body.expires_in), servers.access.tokenLifetimeSeconds);
      assert.deepEqual(body.scope.split(' '), [...servers.access.scopes]);
      const claims = decodeJwt(body.access_token);
      assert.equal(claims.iss, servers.derm.baseUrl);
      assert.equal(claims.aud, servers.derm.fhirBase);
      assert.equal(claims.sub, `Practitioner/${dermDerm}`);
      const tasks = await fetch(`${servers.derm.fhirBase}/Task?_count=10`, { headers: { authorization: `Bearer ${body.access_token}` } });
      assert.equal(tasks.status, 200);
      assert.equal(((await tasks.json()) as { entry?: unknown[] }).entry?.length, 3, 'the whole queue');
      const granted = servers.derm.dermbridge.audit.search({ agent: `Practitioner/${dermDerm}`, count: 50 });
      assert.ok(granted.entry?.some((e) => e.resource?.subtype?.[0]?.code === 'token-exchange' && e.resource.outcome === '0'), 'the grant is audited');
    });

    it("a launch with a patient is bound to that patient's dermbridge record (matched by MRN): other patients are invisible", async () => {
      const login = await loginAtEpic(`Practitioner/${epicDerm}`, epicMaria);
      assert.equal(login.patient, epicMaria);
      const { status, body } = await exchange(exchangeParams(login));
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.patient, dermMaria);
      assert.ok(body.scope.split(' ').includes('patient/Task.rus'));
      assert.ok(body.scope.split(' ').includes('user/Questionnaire.rs'), 'shared definitions stay readable');
      const auth = { authorization: `Bearer ${body.access_token}` };
      const own = await fetch(`${servers.derm.fhirBase}/Patient/${dermMaria}`, { headers: auth });
      assert.equal(own.status, 200);
      const other = await servers.idAt(servers.derm, 'Patient', 'pat-2');
      assert.equal((await fetch(`${servers.derm.fhirBase}/Patient/${other}`, { headers: auth })).status, 404);
      const tasks = (await (await fetch(`${servers.derm.fhirBase}/Task?_count=10`, { headers: auth })).json()) as { entry?: { resource: { for?: { reference?: string } } }[] };
      assert.deepEqual(tasks.entry?.map((e) => e.resource.for?.reference), [`Patient/${dermMaria}`]);
    });

    it('an absolute fhirUser URL on the EHR base (as Epic sends it) is accepted', async () => {
      const fhirUser = `${servers.epic.fhirBase}/Practitioner/${epicDerm}`;
      const { status, body } = await exchange(exchangeParams({ id_token: await epicIdToken({ fhirUser }), access_token: await epicAccessToken() }));
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.fhirUser, `Practitioner/${dermDerm}`);
    });
  });

  describe('refusals (OAuth error format, audited)', () => {
    it('an EHR that is not configured', async () => {
      const login = { id_token: await epicIdToken({}), access_token: await epicAccessToken() };
      await assertRefused(exchangeParams(login, { ehr: 'https://fhir.other-ehr.example/api/FHIR/R4' }), 'invalid_grant', /not configured/);
    });

    it('an id_token whose signature does not verify with the keys Epic publishes', async () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const forged = await epicIdToken({}, privateKey);
      await assertRefused(exchangeParams({ id_token: forged, access_token: await epicAccessToken() }), 'invalid_grant', /signature/);
    });

    it('an id_token for another client (wrong aud)', async () => {
      const login = { id_token: await epicIdToken({ aud: 'some-other-app' }), access_token: await epicAccessToken() };
      await assertRefused(exchangeParams(login), 'invalid_grant', /aud/);
    });

    it('an id_token from another issuer', async () => {
      const login = { id_token: await epicIdToken({ iss: 'https://evil.example/' }), access_token: await epicAccessToken() };
      await assertRefused(exchangeParams(login), 'invalid_grant', /iss/);
    });

    it('an expired id_token', async () => {
      const login = { id_token: await epicIdToken({ exp: Math.floor(Date.now() / 1000) - 600 }), access_token: await epicAccessToken() };
      await assertRefused(exchangeParams(login), 'invalid_grant', /expired/);
    });

    it('an unsigned (alg none) or HMAC id_token', async () => {
      const payload = Buffer.from(JSON.stringify({ iss: servers.epic.baseUrl, aud: EPIC_CLIENT_ID, sub: 'x', fhirUser: `Practitioner/${epicDerm}`, exp: 9e9, iat: 1 })).toString('base64url');
      const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
      await assertRefused(exchangeParams({ id_token: none, access_token: await epicAccessToken() }), 'invalid_grant', /id_token/);
      const hmac = await new SignJWT({ fhirUser: `Practitioner/${epicDerm}` })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(servers.epic.baseUrl)
        .setAudience(EPIC_CLIENT_ID)
        .setSubject('x')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode('a-secret-the-browser-knows-0123456789'));
      await assertRefused(exchangeParams({ id_token: hmac, access_token: await epicAccessToken() }), 'invalid_grant', /id_token/);
    });

    it('an access token the EHR does not accept', async () => {
      await assertRefused(exchangeParams({ id_token: await epicIdToken({}), access_token: 'not-a-token-of-epic' }), 'invalid_grant', /refused.*401/);
    });

    it('a fhirUser outside the EHR (the server never fetches it)', async () => {
      const login = { id_token: await epicIdToken({ fhirUser: 'https://attacker.example/fhir/Practitioner/1' }), access_token: await epicAccessToken() };
      await assertRefused(exchangeParams(login), 'invalid_grant', /not a Practitioner of Epic/);
    });

    it('an EHR user with no dermbridge Practitioner of the same identifier', async () => {
      const stranger = await servers.epic.dermbridge.repo.createResource<Practitioner>({
        resourceType: 'Practitioner',
        identifier: [{ system: servers.access.practitionerIdentifierSystems[0], value: 'prac-unknown-at-dermbridge' }],
        name: [{ family: 'Stranger' }],
      });
      const fhirUser = `Practitioner/${stranger.id}`;
      const login = { id_token: await epicIdToken({ fhirUser }), access_token: await epicAccessToken(fhirUser) };
      await assertRefused(exchangeParams(login), 'invalid_grant', /not a dermbridge clinician: no dermbridge Practitioner has identifier/);
    });

    it('a launch patient with no dermbridge record', async () => {
      const patient = await servers.epic.dermbridge.repo.createResource<Patient>({
        resourceType: 'Patient',
        identifier: [{ system: servers.access.patientIdentifierSystems[0], value: 'pat-only-at-epic' }],
        name: [{ family: 'Elsewhere' }],
      });
      const login = { id_token: await epicIdToken({}), access_token: await epicAccessToken(), patient: patient.id };
      await assertRefused(exchangeParams(login), 'invalid_grant', /has no dermbridge record/);
    });

    it('a malformed request: wrong grant_type, wrong subject_token_type, missing EHR token, another resource', async () => {
      const login = { id_token: await epicIdToken({}), access_token: await epicAccessToken() };
      await assertRefused(exchangeParams(login, { grant_type: 'client_credentials' }), 'unsupported_grant_type', /token-exchange/);
      await assertRefused(exchangeParams(login, { subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' }), 'invalid_request', /id_token/);
      await assertRefused(exchangeParams(login, { ehr_access_token: undefined }), 'invalid_request', /ehr_access_token/);
      await assertRefused(exchangeParams(login, { resource: 'https://elsewhere.example/fhir' }), 'invalid_request', /issues tokens for/);
    });
  });

  describe('when the EHR cannot be reached', () => {
    it('answers 503 temporarily_unavailable (the app may retry; nothing is issued) and audits the failure', async () => {
      const since = new Date(Date.now() - 1000).toISOString();
      const { status, body } = await exchange(exchangeParams({ id_token: await epicIdToken({}), access_token: await epicAccessToken() }, { ehr: UNREACHABLE_EHR_ISSUER }));
      assert.equal(status, 503);
      assert.equal(body.error, 'temporarily_unavailable');
      assert.match(body.error_description, /smart-configuration/);
      const audited = (servers.derm.dermbridge.audit.search({ since, count: 100 }).entry ?? []).map((e) => e.resource as AuditEvent);
      assert.ok(audited.some((e) => e.subtype?.[0]?.code === 'token-exchange' && e.outcome === '8'));
    });
  });

  describe('DERMBRIDGE_SMART_EHRS caseStoreAccess', () => {
    const ehr = { name: 'Epic', issuer: 'https://ehr.example/api/FHIR/R4', clientId: 'abc' };
    const access = { scopes: ['user/Task.rus'], practitionerIdentifierSystems: ['http://hl7.org/fhir/sid/us-npi'], patientIdentifierSystems: ['urn:oid:1.2.3'] };
    const load = (caseStoreAccess: unknown) => loadConfig({ DERMBRIDGE_SMART_EHRS: JSON.stringify([{ ...ehr, caseStoreAccess }]) });

    it('is optional, and defaults the token lifetime to 5 minutes', () => {
      assert.equal(load(undefined).smart.ehrs[0].caseStoreAccess, undefined);
      assert.deepEqual(load(access).smart.ehrs[0].caseStoreAccess, { ...access, openIdIssuer: undefined, tokenLifetimeSeconds: 300 });
    });

    it('refuses missing identifier systems, an empty scope list, a non-URL issuer and a long lifetime', () => {
      assert.throws(() => load({ ...access, practitionerIdentifierSystems: [] }), ConfigError);
      assert.throws(() => load({ ...access, scopes: [] }), ConfigError);
      assert.throws(() => load({ ...access, openIdIssuer: 'epic' }), ConfigError);
      assert.throws(() => load({ ...access, tokenLifetimeSeconds: 86400 }), ConfigError);
    });
  });

  describe('patientBound', () => {
    it('turns user/ scopes on patient data into patient/ scopes and leaves definitions and non-resource scopes alone', () => {
      assert.deepEqual(patientBound(['user/Task.rus', 'user/*.rs', 'user/Questionnaire.rs', 'user/Binary.r', 'openid']), [
        'patient/Task.rus',
        'patient/*.rs',
        'user/Questionnaire.rs',
        'patient/Binary.r',
        'openid',
      ]);
    });
  });
});
