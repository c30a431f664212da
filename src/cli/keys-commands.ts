/** `dermbridge keys generate|rotate|show`: the sync client's signing keys in the data directory. */
import { Command } from 'commander';
import { generateSyncKeys, publicJwks, readSyncKeys, rotateSyncKeys, syncKeysPath } from '../sync/backend-services/sync-keys';
import { cliConfig, EXIT_OK } from './cli-context';

export function keysCommand(run: (code: number) => void): Command {
  const keys = new Command('keys').description('signing keys of the SMART Backend Services client (private JWKS in the data dir)');
  const hint = (baseUrl: string) => `public keys are served at ${baseUrl}.well-known/sync-jwks.json — register that URL at the EHR\n`;

  keys
    .command('generate')
    .description('create an RS384 and an ES384 key pair, unless keys exist')
    .action(async (flags: { dataDir?: string }) => {
      const config = cliConfig(flags);
      const path = syncKeysPath(config.dataDir);
      const { created, keys: stored } = await generateSyncKeys(path);
      process.stdout.write(`${created ? 'created' : 'kept existing'} keys in ${path}: ${stored.filter((k) => !k.retiredAt).map((k) => k.kid).join(', ')}\n`);
      process.stdout.write(hint(config.baseUrl));
      run(EXIT_OK);
    });

  keys
    .command('rotate')
    .description('new key pairs; the old public keys stay published for 24 h')
    .action(async (flags: { dataDir?: string }) => {
      const config = cliConfig(flags);
      const stored = await rotateSyncKeys(syncKeysPath(config.dataDir));
      process.stdout.write(`active: ${stored.filter((k) => !k.retiredAt).map((k) => k.kid).join(', ')}; retired but published: ${stored.filter((k) => k.retiredAt).length}\n`);
      process.stdout.write(hint(config.baseUrl));
      run(EXIT_OK);
    });

  keys
    .command('show')
    .description('print the public JWK Set')
    .action((flags: { dataDir?: string }) => {
      process.stdout.write(JSON.stringify(publicJwks(readSyncKeys(syncKeysPath(cliConfig(flags).dataDir))), null, 2) + '\n');
      run(EXIT_OK);
    });
  return keys;
}
