/**
 * docker-compose.yml, checked without Docker (no compose plugin on CI machines): parsed as YAML and
 * held to what production needs — the services and images, health checks that work in those
 * images, dermbridge pointed at the Medplum service, and every variable documented.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CORE_SCHEMA, load, mergeTag } from 'js-yaml';

const ROOT = join(__dirname, '..', '..');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  healthcheck?: { test: string[] | string };
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  volumes?: string[];
  command?: string[] | string;
  entrypoint?: string[] | string;
  profiles?: string[];
}

describe('docker-compose.yml (production on Medplum)', () => {
  const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
  // Compose files use YAML merge keys (`<<: *anchor`), which YAML 1.2's core schema leaves out.
  const compose = load(text, { schema: CORE_SCHEMA.withTags(mergeTag) }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
  const services = compose.services;
  const docs = readFileSync(join(ROOT, 'docs', 'deployment.md'), 'utf8');
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

  it('runs Medplum on postgres:16 and redis:7, with dermbridge built from the Dockerfile', () => {
    assert.equal(services.postgres.image, 'postgres:16');
    assert.equal(services.redis.image, 'redis:7');
    assert.match(services.medplum.image ?? '', /^medplum\/medplum-server:\$\{MEDPLUM_VERSION:-5\.2\.\d+\}$/, 'pinned, not :latest');
    assert.deepEqual(services.dermbridge.build, { context: '.', dockerfile: 'Dockerfile' });
    assert.match(dockerfile, /^FROM node:24-bookworm-slim$/m);
    assert.match(dockerfile, /^RUN npm ci\b/m);
    assert.match(dockerfile, /^COPY \. \.$/m);
  });

  it('never mounts the source tree into a container', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        assert.doesNotMatch(volume, /^\.{1,2}[/:]/, `${name} mounts ${volume}`);
      }
    }
  });

  it('gives every long-running service a health check its image can run, and starts in dependency order', () => {
    for (const name of ['postgres', 'redis', 'medplum', 'dermbridge']) {
      assert.ok(services[name].healthcheck, `${name} has no healthcheck`);
    }
    // The Medplum image has neither curl nor wget.
    assert.doesNotMatch(JSON.stringify(services.medplum.healthcheck), /curl|wget/);
    assert.deepEqual(services.medplum.depends_on, { postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
    assert.deepEqual(services.dermbridge.depends_on, { medplum: { condition: 'service_healthy' } });
  });

  it('configures Medplum from MEDPLUM_* variables with vmcontext bots', () => {
    const env = services.medplum.environment ?? {};
    assert.ok(String(services.medplum.entrypoint).endsWith('env'), 'started with the env config source');
    assert.equal(env.MEDPLUM_DATABASE_HOST, 'postgres');
    assert.equal(env.MEDPLUM_REDIS_HOST, 'redis');
    assert.equal(env.MEDPLUM_VM_CONTEXT_BOTS_ENABLED, 'true');
    assert.equal(env.MEDPLUM_DEFAULT_BOT_RUNTIME_VERSION, 'vmcontext');
  });

  it('points dermbridge at the Medplum service as its store, and deploys bots on start', () => {
    const env = services.dermbridge.environment ?? {};
    assert.equal(env.MEDPLUM_BASE_URL, 'http://medplum:8103/');
    assert.match(env.MEDPLUM_CLIENT_ID, /^\$\{MEDPLUM_CLIENT_ID:\?/);
    assert.match(env.MEDPLUM_CLIENT_SECRET, /^\$\{MEDPLUM_CLIENT_SECRET:\?/);
    assert.equal(env.DERMBRIDGE_DATA_DIR, '/data');
    assert.match(env.MEDPLUM_ISSUER, /MEDPLUM_PUBLIC_URL/, 'tokens carry Medplum\'s public URL as iss');
    assert.match(env.DERMBRIDGE_DEPLOY_BOTS_ON_START, /:-true\}$/);
    assert.match(dockerfile, /bots\/build\.ts/, 'the image carries the built bot bundles');
  });

  it('requires every secret instead of defaulting it', () => {
    for (const secret of ['POSTGRES_PASSWORD', 'REDIS_PASSWORD', 'MEDPLUM_CLIENT_SECRET']) {
      assert.match(text, new RegExp(`\\$\\{${secret}:\\?`), `${secret} must be required`);
      assert.doesNotMatch(text, new RegExp(`\\$\\{${secret}:-`), `${secret} must have no default`);
    }
  });

  it('documents every variable it reads and every variable it sets for dermbridge', () => {
    const referenced = new Set([...text.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]));
    const dermbridgeKeys = [...Object.keys(services.dermbridge.environment ?? {}), ...Object.keys(services['dermbridge-sync'].environment ?? {})];
    const undocumented = [...referenced, ...dermbridgeKeys].filter((name) => !docs.includes(`\`${name}\``));
    assert.deepEqual([...new Set(undocumented)], []);
  });
});
