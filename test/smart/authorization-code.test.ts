import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { APP, createSmartAuthApp, DERMATOLOGIST, FHIR_BASE, newState, pkcePair, type SmartAuthApp } from './smart-auth-app';

interface AuthorizeOptions {
  readonly launch?: string;
  readonly aud?: string;
  readonly challenge?: string;
  readonly method?: string;
  readonly scope?: string;
  readonly state?: string;
  readonly redirectUri?: string;
}

const SCOPE = 'launch openid fhirUser offline_access user/Task.rus user/Patient.rs';

function authorizeQuery(o: AuthorizeOptions & { challenge: string }): Record<string, string> {
  return {
    response_type: 'code',
    client_id: APP.clientId,
    redirect_uri: o.redirectUri ?? APP.redirectUri,
    scope: o.scope ?? SCOPE,
    state: o.state ?? newState(),
    aud: o.aud ?? FHIR_BASE,
    code_challenge: o.challenge,
    code_challenge_method: o.method ?? 'S256',
    ...(o.launch === undefined ? {} : { launch: o.launch }),
  };
}

/** Runs the EHR launch to the redirect; returns the redirect URL's parameters. */
async function authorize(s: SmartAuthApp, o: AuthorizeOptions = {}): Promise<{ params: URLSearchParams; verifier: string; status: number }> {
  const { verifier, challenge } = pkcePair();
  const res = await request(s.app).get('/oauth2/authorize').query(authorizeQuery({ ...o, challenge: o.challenge ?? challenge }));
  const location = res.headers.location as string | undefined;
  return { params: location ? new URL(location).searchParams : new URLSearchParams(), verifier, status: res.status };
}

function exchange(s: SmartAuthApp, code: string, verifier: string, extra: Record<string, string> = {}) {
  return request(s.app)
    .post('/oauth2/token')
    .type('form')
    .send({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: APP.redirectUri, client_id: APP.clientId, ...extra });
}

describe('GET /oauth2/authorize and the authorization_code grant (development EHR)', () => {
  let s: SmartAuthApp;
  let launch: string;

  beforeEach(() => {
    s = createSmartAuthApp();
    launch = s.auth.createLaunch({ fhirUser: DERMATOLOGIST, patientId: 'pat-1', encounterId: 'enc-1', needPatientBanner: false });
  });

  it('an EHR launch returns a code and the same state to the registered redirect URI', async () => {
    const state = newState();
    const res = await request(s.app).get('/oauth2/authorize').query(authorizeQuery({ launch, state, challenge: pkcePair().challenge }));
    assert.equal(res.status, 302);
    const url = new URL(res.headers.location as string);
    assert.equal(url.origin + url.pathname, APP.redirectUri);
    assert.equal(url.searchParams.get('state'), state);
    assert.ok((url.searchParams.get('code') ?? '').length >= 43);
  });

  it('the token response carries the launch context, granted scopes, a refresh token and an id_token', async () => {
    const { params, verifier } = await authorize(s, { launch });
    const res = await exchange(s, params.get('code') as string, verifier).expect(200);
    assert.equal(res.body.patient, 'pat-1');
    assert.equal(res.body.encounter, 'enc-1');
    assert.equal(res.body.need_patient_banner, false);
    assert.equal(res.body.smart_style_url, 'http://dermbridge.test/smart/ehr-style.json');
    assert.equal(res.body.scope, SCOPE);
    assert.ok(res.body.refresh_token);
    const claims = decodeJwt(res.body.access_token);
    assert.equal(claims.fhirUser, DERMATOLOGIST);
    assert.equal(claims.patient, 'pat-1');
    assert.equal(claims.aud, FHIR_BASE);
    const idToken = decodeJwt(res.body.id_token);
    assert.equal(idToken.aud, APP.clientId);
    assert.equal(idToken.fhirUser, DERMATOLOGIST);
    const who = await request(s.app).get('/fhir/R4/whoami').set('Authorization', `Bearer ${res.body.access_token}`).expect(200);
    assert.equal(who.body.subject, DERMATOLOGIST);
  });

  it('grants only the requested scopes the client may have (v1 syntax stays v1)', async () => {
    const { params, verifier } = await authorize(s, { launch, scope: 'launch user/Patient.read system/*.cruds made-up' });
    const res = await exchange(s, params.get('code') as string, verifier).expect(200);
    assert.equal(res.body.scope, 'launch user/Patient.read');
    assert.equal(res.body.refresh_token, undefined);
    assert.equal(res.body.id_token, undefined);
  });

  it('refuses a wrong PKCE verifier', async () => {
    const { params } = await authorize(s, { launch });
    const res = await exchange(s, params.get('code') as string, pkcePair().verifier).expect(400);
    assert.equal(res.body.error, 'invalid_grant');
    assert.match(res.body.error_description, /code_verifier/);
  });

  it('refuses a request without PKCE S256 (plain is not allowed)', async () => {
    const { verifier } = pkcePair();
    const { params } = await authorize(s, { launch, challenge: verifier, method: 'plain' });
    assert.equal(params.get('error'), 'invalid_request');
    assert.match(params.get('error_description') as string, /PKCE/);
    assert.equal(params.get('code'), null);
  });

  it('refuses an aud that is not this FHIR server, and echoes the state with the error', async () => {
    const state = newState();
    const { params } = await authorize(s, { launch, state, aud: 'https://evil.example/fhir' });
    assert.equal(params.get('error'), 'invalid_request');
    assert.match(params.get('error_description') as string, /aud/);
    assert.equal(params.get('state'), state);
  });

  it('refuses a missing or short state', async () => {
    const { params } = await authorize(s, { launch, state: 'abc' });
    assert.equal(params.get('error'), 'invalid_request');
    assert.match(params.get('error_description') as string, /state/);
  });

  it('never redirects to an unregistered redirect URI', async () => {
    const { status } = await authorize(s, { launch, redirectUri: 'https://evil.example/cb' });
    assert.equal(status, 400);
  });

  it('refuses an unknown or expired launch', async () => {
    assert.equal((await authorize(s, { launch: 'made-up' })).params.get('error'), 'invalid_request');
    s.advance(301);
    const { params } = await authorize(s, { launch });
    assert.equal(params.get('error'), 'invalid_request');
    assert.match(params.get('error_description') as string, /launch/);
  });

  it('refuses an expired code', async () => {
    const { params, verifier } = await authorize(s, { launch });
    s.advance(61);
    const res = await exchange(s, params.get('code') as string, verifier).expect(400);
    assert.equal(res.body.error, 'invalid_grant');
    assert.match(res.body.error_description, /expired/);
  });

  it('refuses a replayed code, and revokes the refresh tokens descended from its first use', async () => {
    const { params, verifier } = await authorize(s, { launch });
    const first = await exchange(s, params.get('code') as string, verifier).expect(200);
    const refresh = (token: string) => request(s.app).post('/oauth2/token').type('form').send({ grant_type: 'refresh_token', refresh_token: token, client_id: APP.clientId });
    const rotated = await refresh(first.body.refresh_token).expect(200);
    const replay = await exchange(s, params.get('code') as string, verifier).expect(400);
    assert.match(replay.body.error_description, /already used/);
    assert.equal((await refresh(rotated.body.refresh_token)).status, 400);
  });

  it('refuses a code redeemed with another redirect_uri or by another client', async () => {
    const a = await authorize(s, { launch });
    const res = await exchange(s, a.params.get('code') as string, a.verifier, { redirect_uri: 'http://dermbridge.test/other' }).expect(400);
    assert.equal(res.body.error, 'invalid_grant');
    const b = await authorize(s, { launch });
    const other = await exchange(s, b.params.get('code') as string, b.verifier, { client_id: 'dermbridge-demo' });
    assert.equal(other.body.error, 'invalid_client');
  });

  it('a refresh token gives a new access token with the same context, once (rotation)', async () => {
    const { params, verifier } = await authorize(s, { launch });
    const first = await exchange(s, params.get('code') as string, verifier).expect(200);
    const refresh = () =>
      request(s.app).post('/oauth2/token').type('form').send({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token, client_id: APP.clientId });
    const refreshed = await refresh().expect(200);
    assert.notEqual(refreshed.body.access_token, first.body.access_token);
    assert.equal(refreshed.body.patient, 'pat-1');
    assert.equal(refreshed.body.scope, SCOPE);
    assert.ok(refreshed.body.refresh_token && refreshed.body.refresh_token !== first.body.refresh_token);
    assert.equal((await refresh()).status, 400);
  });

  it('a confidential client redeems its code with its secret (and cannot without it)', async () => {
    s.auth.clients.registerClient({ clientId: 'server-app', secret: 'server-app-secret', scopes: ['launch', 'user/Task.rs'], redirectUris: ['https://app.example/cb'] });
    const { verifier, challenge } = pkcePair();
    const query = { ...authorizeQuery({ launch, challenge, scope: 'launch user/Task.rs', redirectUri: 'https://app.example/cb' }), client_id: 'server-app' };
    const res = await request(s.app).get('/oauth2/authorize').query(query).expect(302);
    const code = new URL(res.headers.location as string).searchParams.get('code') as string;
    const form = { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: 'https://app.example/cb', client_id: 'server-app' };
    const anonymous = await request(s.app).post('/oauth2/token').type('form').send(form);
    assert.equal(anonymous.body.error, 'invalid_client');
    const ok = await request(s.app).post('/oauth2/token').auth('server-app', 'server-app-secret').type('form').send(form).expect(200);
    assert.equal(ok.body.patient, 'pat-1');
  });

  it('a public client cannot use client_credentials', async () => {
    const res = await request(s.app).post('/oauth2/token').type('form').send({ grant_type: 'client_credentials', client_id: APP.clientId });
    assert.equal(res.body.error, 'invalid_client');
  });

  it('a standalone launch shows the development sign-in, and the chosen user and patient become the context', async () => {
    const { verifier, challenge } = pkcePair();
    const query = authorizeQuery({ challenge, scope: 'launch/patient openid fhirUser user/Task.rus' });
    const page = await request(s.app).get('/oauth2/authorize').query(query).expect(200);
    assert.match(page.text, /no password here/);
    const signedIn = await request(s.app).post('/oauth2/authorize').type('form').send({ ...query, dev_user: DERMATOLOGIST, dev_patient: 'pat-1' }).expect(302);
    const code = new URL(signedIn.headers.location as string).searchParams.get('code') as string;
    const res = await exchange(s, code, verifier).expect(200);
    assert.equal(res.body.patient, 'pat-1');
    assert.equal(res.body.need_patient_banner, true);
    assert.equal(decodeJwt(res.body.access_token).fhirUser, DERMATOLOGIST);
  });
});

describe('GET {FHIR base}/.well-known/smart-configuration with the development EHR', () => {
  it('states the authorization endpoint, PKCE S256 and the launch capabilities, and not OpenID SSO', async () => {
    const { app } = createSmartAuthApp();
    const res = await request(app).get('/fhir/R4/.well-known/smart-configuration').expect(200);
    assert.equal(res.body.authorization_endpoint, 'http://dermbridge.test/oauth2/authorize');
    assert.deepEqual(res.body.code_challenge_methods_supported, ['S256']);
    assert.ok(res.body.grant_types_supported.includes('authorization_code'));
    for (const capability of ['launch-ehr', 'launch-standalone', 'context-ehr-patient', 'context-standalone-patient', 'permission-v2', 'permission-v1', 'client-public', 'client-confidential-symmetric']) {
      assert.ok(res.body.capabilities.includes(capability), capability);
    }
    assert.ok(!res.body.capabilities.includes('sso-openid-connect'));
  });
});
