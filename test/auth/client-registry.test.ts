import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { createClientRegistry } from '../../src/auth/client-registry';

describe('client-registry', () => {
  const db = new DatabaseSync(':memory:');
  const clients = createClientRegistry(db);

  it('stores a scrypt hash of the secret, never the secret', () => {
    clients.registerClient({ clientId: 'a', secret: 'super-secret-value', scopes: ['system/*.rs'] });
    const row = db.prepare('SELECT secret_hash FROM auth_client WHERE client_id = ?').get('a') as { secret_hash: string };
    assert.match(row.secret_hash, /^scrypt\$16384\$8\$1\$/);
    assert.equal(row.secret_hash.includes('super-secret-value'), false);
  });

  it('authenticates the right secret and refuses a wrong one or an unknown client', async () => {
    clients.registerClient({ clientId: 'b', secret: 'right-secret', scopes: ['system/*.rs'] });
    assert.equal((await clients.authenticateWithSecret('b', 'right-secret'))?.clientId, 'b');
    assert.equal(await clients.authenticateWithSecret('b', 'wrong-secret'), undefined);
    assert.equal(await clients.authenticateWithSecret('nobody', 'right-secret'), undefined);
  });

  it('replaces a registration on a second registerClient with the same id', async () => {
    clients.registerClient({ clientId: 'c', secret: 'first-secret', scopes: ['system/*.rs'] });
    clients.registerClient({ clientId: 'c', secret: 'second-secret', scopes: ['system/Patient.r'], fhirUser: 'Practitioner/p' });
    const client = clients.findClient('c');
    assert.deepEqual(client?.scopes, ['system/Patient.r']);
    assert.equal(client?.fhirUser, 'Practitioner/p');
    assert.equal(await clients.authenticateWithSecret('c', 'first-secret'), undefined);
    assert.ok(await clients.authenticateWithSecret('c', 'second-secret'));
  });

  it('never authenticates a key-only client by secret', async () => {
    clients.registerClient({ clientId: 'd', scopes: ['system/*.rs'], jwksUri: 'https://example.org/jwks.json' });
    assert.equal(clients.findClient('d')?.hasSecret, false);
    assert.equal(await clients.authenticateWithSecret('d', ''), undefined);
  });

  it('refuses registrations that cannot work or would leak keys', () => {
    assert.throws(() => clients.registerClient({ clientId: '', secret: 'long-enough', scopes: ['system/*.rs'] }), TypeError);
    assert.throws(() => clients.registerClient({ clientId: 'e', scopes: ['system/*.rs'] }), TypeError);
    assert.throws(() => clients.registerClient({ clientId: 'e', secret: 'long-enough', scopes: [] }), TypeError);
    assert.throws(() => clients.registerClient({ clientId: 'e', scopes: ['system/*.rs'], jwks: { keys: [{ kty: 'EC', crv: 'P-384', x: 'x', y: 'y', d: 'd' }] } }), TypeError);
  });
});
