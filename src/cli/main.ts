/**
 * `dermbridge`: the interface engineer's command line (`npm run cli -- <command>`).
 *   sync pull|push|status · bulk import|export · keys generate|rotate|show · bots deploy
 * Exit codes: 0 done, 1 something failed (the summary says what), 2 bad usage or settings.
 */
import { Command, CommanderError } from 'commander';
import { deployBotsToStore } from '../bots/deploy-to-store';
import { cliConfig, connectStore, EXIT_OK } from './cli-context';
import { bulkCommand } from './bulk-commands';
import { keysCommand } from './keys-commands';
import { syncCommand } from './sync-commands';

const EXIT_USAGE = 2;

export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('dermbridge')
    .description('dermbridge operations: EHR sync, bulk data, keys, bots')
    .option('--data-dir <dir>', 'data directory (DERMBRIDGE_DATA_DIR; default ./data)')
    .enablePositionalOptions()
    .exitOverride();
  // Global --data-dir reaches every action through its own flags.
  program.hook('preAction', (_program, action) => {
    const dataDir = program.opts<{ dataDir?: string }>().dataDir;
    if (dataDir) {
      action.setOptionValue('dataDir', dataDir);
    }
  });
  program.addCommand(syncCommand(setExitCode));
  program.addCommand(bulkCommand(setExitCode));
  program.addCommand(keysCommand(setExitCode));
  const bots = new Command('bots').description('Medplum bots');
  bots
    .command('deploy')
    .description('deploy the bots of bots/medplum.config.json to the case store (Medplum with MEDPLUM_*, else the running server)')
    .option('--data-dir <dir>', 'data directory (DERMBRIDGE_DATA_DIR)')
    .action(async (flags: { dataDir?: string }) => {
      const deployed = await deployBotsToStore(cliConfig(flags), { connect: connectStore });
      process.stdout.write(`${JSON.stringify(deployed, null, 2)}\n`);
      setExitCode(EXIT_OK);
    });
  program.addCommand(bots);
  // Usage errors anywhere in the tree reach main() as CommanderError (exit code 2), not process.exit.
  const overrideAll = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(overrideAll);
  };
  overrideAll(program);
  return program;
}

async function main(): Promise<void> {
  let exitCode = 0;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    const e = err as { code?: string; message?: string };
    process.stderr.write(`dermbridge: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}\n`);
    process.exitCode = e.code === 'ERR_SYNC_SETTINGS' || e.code === 'ERR_SYNC_KEYS_MISSING' ? EXIT_USAGE : 1;
    return;
  }
  process.exitCode = exitCode;
}

if (require.main === module) {
  void main().then(() => {
    // Keep-alive sockets (fhir-kit-client's agents) must not hold the process open.
    setImmediate(() => process.exit(process.exitCode ?? 0));
  });
}
