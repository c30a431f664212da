import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import request from 'supertest';
import { signClientAssertion } from '../../src/sync/backend-services/client-assertion';
import { activeKey, generateSyncKeys, publicJwks, readSyncKeys, ROTATION_GRACE_MS, rotateSyncKeys, syncKeysPath } from '../../src/sync/backend-services/sync-keys';
import { BackendServicesClient } from '../../src/sync/backend-services/token-client';
import { startSyncFixture, SYNC_CLIENT_ID, type SyncFixture } from './support/sync-fixture';

describe('backend-services sync keys', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sync-keys-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('generates one RS384 and one ES384 key into a file only its owner can read', async () => {
    const path = syncKeysPath(dir);
    const { created, keys } = await generateSyncKeys(path);
    assert.equal(created, true);
    assert.deepEqual(keys.map((k) => k.alg).sort(), ['ES384', 'RS384']);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal((await generateSyncKeys(path)).created, false, 'a second generate keeps the keys');
  });

  it('publishes only public keys, and keeps retired ones published for the grace period', async () => {
    const path = syncKeysPath(dir);
    const { keys: first } = await generateSyncKeys(path);
    const rotated = await rotateSyncKeys(path);
    const jwks = publicJwks(rotated);
    assert.equal(jwks.keys.length, 4);
    assert.ok(jwks.keys.every((k) => k.d === undefined && k.p === undefined && k.kid));
    assert.notEqual(activeKey(rotated, 'ES384').kid, activeKey(first, 'ES384').kid);
    assert.equal(publicJwks(rotated, Date.now() + ROTATION_GRACE_MS + 1).keys.length, 2);
  });

  for (const alg of ['RS384', 'ES384'] as const) {
    it(`signs ${alg} client assertions with kid, exp within 5 minutes and a unique jti`, async () => {
      const { keys } = await generateSyncKeys(syncKeysPath(dir));
      const key = activeKey(keys, alg);
      const a = await signClientAssertion(key, 'client-1', 'https://ehr.example.org/token');
      const b = await signClientAssertion(key, 'client-1', 'https://ehr.example.org/token');
      assert.deepEqual(decodeProtectedHeader(a), { alg, kid: key.kid, typ: 'JWT' });
      const claims = decodeJwt(a);
      assert.equal(claims.iss, 'client-1');
      assert.equal(claims.sub, 'client-1');
      assert.equal(claims.aud, 'https://ehr.example.org/token');
      assert.ok((claims.exp as number) - Math.floor(Date.now() / 1000) <= 300);
      assert.notEqual(claims.jti, decodeJwt(b).jti);
    });
  }
});

describe('BackendServicesClient against the EHR test server', () => {
  let f: SyncFixture;
  let tokenRequests = 0;
  const countingFetch: typeof fetch = (input, init) => {
    if (String(input).endsWith('/oauth2/token')) {
      tokenRequests++;
    }
    return fetch(input, init);
  };

  before(async () => {
    f = await startSyncFixture();
  });
  after(async () => {
    await f.close();
  });

  const client = (now: () => number = Date.now, alg: 'RS384' | 'ES384' = 'ES384') =>
    new BackendServicesClient({
      fhirBaseUrl: `${f.ehrServer.baseUrl}fhir/R4`,
      clientId: SYNC_CLIENT_ID,
      scope: 'system/Patient.rs',
      alg,
      keys: () => readSyncKeys(syncKeysPath(f.ours.dataDir)),
      fetch: countingFetch,
      now,
    });

  it('serves our public JWK Set at /.well-known/sync-jwks.json', async () => {
    const res = await request(f.ours.baseUrl.replace(/\/$/, '')).get('/.well-known/sync-jwks.json');
    assert.equal(res.status, 200);
    assert.equal(res.body.keys.length, 2);
    assert.ok(res.body.keys.every((k: { d?: string }) => k.d === undefined));
  });

  for (const alg of ['RS384', 'ES384'] as const) {
    it(`gets a token with a ${alg} assertion (discovery, the EHR fetching our JWKS URL) and uses the granted scope`, async () => {
      const tokens = client(Date.now, alg);
      const token = await tokens.accessToken();
      assert.ok(token);
      assert.equal(tokens.grantedScope, 'system/Patient.rs');
      const res = await request(f.ehrServer.baseUrl.replace(/\/$/, '')).get('/fhir/R4/Patient').set('Authorization', `Bearer ${token}`);
      assert.equal(res.status, 200);
    });
  }

  it('caches the token and renews it a minute before it expires', async () => {
    let clock = Date.now();
    const tokens = client(() => clock);
    tokenRequests = 0;
    const first = await tokens.accessToken();
    assert.equal(await tokens.accessToken(), first);
    await Promise.all([tokens.accessToken(), tokens.accessToken()]);
    assert.equal(tokenRequests, 1);
    clock += (3600 - 59) * 1000;
    assert.notEqual(await tokens.accessToken(), first);
    assert.equal(tokenRequests, 2);
  });

  it('keeps working across a key rotation while the EHR still has the old JWK Set cached', async () => {
    await client().accessToken(); // the EHR has fetched and cached our keys
    await request(f.ours.baseUrl.replace(/\/$/, '')).post('/admin/keys/rotate').set('Authorization', `Bearer ${await f.ours.adminToken()}`).expect(200);
    const token = await client().accessToken();
    assert.ok(token);
  });
});
