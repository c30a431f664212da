import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { jwtVerify, SignJWT } from 'jose';
import { loadOrCreateSigningKeys } from '../../src/auth/signing-keys';

describe('signing-keys loadOrCreateSigningKeys', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dermbridge-keys-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('generates one ES256 key on first start and reuses it after a restart', async () => {
    const file = join(dir, 'db.sqlite');
    const first = new DatabaseSync(file);
    const before = loadOrCreateSigningKeys(first);
    const token = await new SignJWT({}).setProtectedHeader({ alg: before.alg, kid: before.kid }).sign(before.privateKey);
    first.close();

    const second = new DatabaseSync(file);
    const after = loadOrCreateSigningKeys(second);
    assert.equal(after.kid, before.kid);
    assert.equal(after.alg, 'ES256');
    await jwtVerify(token, after.publicKeyFor(before.kid) as NonNullable<ReturnType<typeof after.publicKeyFor>>);
    second.close();
  });

  it('gives two connections to one database file the same key', () => {
    const file = join(dir, 'db.sqlite');
    const a = new DatabaseSync(file);
    const b = new DatabaseSync(file);
    assert.equal(loadOrCreateSigningKeys(a).kid, loadOrCreateSigningKeys(b).kid);
    assert.equal((a.prepare('SELECT count(*) AS n FROM auth_signing_key').get() as { n: number }).n, 1);
    a.close();
    b.close();
  });

  it('finds a key another process added after this one started', () => {
    const db = new DatabaseSync(':memory:');
    const keys = loadOrCreateSigningKeys(db);
    db.prepare("INSERT INTO auth_signing_key SELECT 'rotated', alg, private_jwk, replace(public_jwk, kid, 'rotated'), created_at + 1 FROM auth_signing_key").run();
    assert.ok(keys.publicKeyFor('rotated'));
    assert.equal(keys.publicKeyFor('never-issued'), undefined);
    assert.deepEqual(keys.jwks().keys.map((k) => k.kid), ['rotated', keys.kid]);
  });

  it('publishes no private key material in the JWK Set', () => {
    const keys = loadOrCreateSigningKeys(new DatabaseSync(':memory:'));
    for (const jwk of keys.jwks().keys) {
      assert.equal('d' in jwk, false);
      assert.equal(jwk.use, 'sig');
    }
  });
});
