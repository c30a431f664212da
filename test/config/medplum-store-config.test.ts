import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config/load-config';

const MEDPLUM = { MEDPLUM_BASE_URL: 'http://medplum:8103', MEDPLUM_CLIENT_ID: 'dermbridge', MEDPLUM_CLIENT_SECRET: 's3cret' };

describe('loadConfig: the case store', () => {
  it('is the embedded store when MEDPLUM_BASE_URL is unset', () => {
    assert.deepEqual(loadConfig({}).store, { kind: 'embedded' });
  });

  it('is Medplum when MEDPLUM_BASE_URL is set: issuer and JWKS default from the base URL, no bot deployment', () => {
    assert.deepEqual(loadConfig(MEDPLUM).store, {
      kind: 'medplum',
      baseUrl: 'http://medplum:8103/',
      clientId: 'dermbridge',
      clientSecret: 's3cret',
      issuer: 'http://medplum:8103/',
      jwksUrl: 'http://medplum:8103/.well-known/jwks.json',
      deployBotsOnStart: false,
    });
  });

  it('takes MEDPLUM_ISSUER (Medplum\'s public URL) and DERMBRIDGE_DEPLOY_BOTS_ON_START', () => {
    const store = loadConfig({ ...MEDPLUM, MEDPLUM_ISSUER: 'https://medplum.example.org/', DERMBRIDGE_DEPLOY_BOTS_ON_START: 'true' }).store;
    assert.equal(store.kind === 'medplum' && store.issuer, 'https://medplum.example.org/');
    assert.equal(store.kind === 'medplum' && store.jwksUrl, 'http://medplum:8103/.well-known/jwks.json', 'keys are fetched where dermbridge reaches Medplum');
    assert.equal(store.kind === 'medplum' && store.deployBotsOnStart, true);
  });

  it('stops the start naming each missing Medplum credential', () => {
    assert.throws(() => loadConfig({ MEDPLUM_BASE_URL: 'http://medplum:8103/' }), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /missing: MEDPLUM_CLIENT_ID, MEDPLUM_CLIENT_SECRET/);
      return true;
    });
    assert.throws(() => loadConfig({ ...MEDPLUM, MEDPLUM_CLIENT_SECRET: '' }), /missing: MEDPLUM_CLIENT_SECRET\)/);
  });

  it('refuses values that are not what they should be', () => {
    assert.throws(() => loadConfig({ ...MEDPLUM, MEDPLUM_BASE_URL: 'medplum:8103' }), /MEDPLUM_BASE_URL must be an http\(s\) URL/);
    assert.throws(() => loadConfig({ ...MEDPLUM, MEDPLUM_ISSUER: 'ftp://x' }), /MEDPLUM_ISSUER must be an http\(s\) URL/);
    assert.throws(() => loadConfig({ ...MEDPLUM, DERMBRIDGE_DEPLOY_BOTS_ON_START: 'yes' }), /DERMBRIDGE_DEPLOY_BOTS_ON_START must be true or false/);
  });

  it('refuses Medplum settings without MEDPLUM_BASE_URL instead of silently running the embedded store', () => {
    for (const name of ['MEDPLUM_CLIENT_ID', 'MEDPLUM_CLIENT_SECRET', 'MEDPLUM_ISSUER', 'DERMBRIDGE_DEPLOY_BOTS_ON_START']) {
      assert.throws(() => loadConfig({ [name]: 'x' }), new RegExp(`${name} is set but MEDPLUM_BASE_URL is not`));
    }
  });

  it('refuses demo data and the development EHR with Medplum: both need the embedded store', () => {
    assert.throws(() => loadConfig(MEDPLUM, { seedDemoData: true }), /demo data .* needs the embedded store/);
    assert.throws(() => loadConfig({ ...MEDPLUM, DERMBRIDGE_DEV_EHR: 'true' }), /development EHR .* needs the embedded store/);
  });
});
