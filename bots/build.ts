import { build } from 'esbuild';
import { join } from 'node:path';
import type { BotManifestEntry } from './manifest';
import { REPO_ROOT, readManifest } from './manifest';

/**
 * Bundles each bot to one CommonJS file (`exports.handler`), as Medplum's vmcontext runtime loads
 * it: no `process`, no `require` of project files, @medplum/core used for types only.
 * `node --import tsx bots/build.ts [outDir]`.
 */
export async function buildBot(entry: BotManifestEntry, outDir?: string): Promise<string> {
  const outfile = outDir ? join(outDir, `${entry.name}.js`) : join(REPO_ROOT, entry.dist);
  await build({
    entryPoints: [join(REPO_ROOT, entry.source)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'es2022',
    legalComments: 'none',
    logLevel: 'error',
  });
  return outfile;
}

export async function buildBots(outDir?: string): Promise<string[]> {
  return Promise.all(readManifest().bots.map((b) => buildBot(b, outDir)));
}

if (require.main === module) {
  buildBots(process.argv[2])
    .then((files) => console.log(files.join('\n')))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
