/** `dermbridge bulk import|export` */
import { Command } from 'commander';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { importBulkManifest, runBulkExport } from '../sync/bulk/bulk-export-client';
import { exportNdjson } from '../sync/bulk/ndjson-export';
import { importNdjson } from '../sync/bulk/ndjson-import';
import { connectEhr } from '../sync/ehr-settings';
import { cliConfig, connectStore, ehrSettings, EXIT_OK, progressBar, report, type EhrFlags } from './cli-context';
import { withEhrOptions } from './ehr-options';

export function bulkCommand(run: (code: number) => void): Command {
  const bulk = new Command('bulk').description('FHIR Bulk Data: NDJSON import and export');

  withEhrOptions(bulk.command('import'))
    .description('import NDJSON into the store: from a file (- for stdin), or from an EHR $export with --from-ehr')
    .argument('[file]', 'NDJSON file, or - for stdin')
    .option('--from-ehr', 'run a Bulk Data $export on the EHR and import its output')
    .option('--types <types>', 'with --from-ehr: comma-separated _type')
    .option('--since <instant>', 'with --from-ehr: _since')
    .option('--batch-size <n>', 'resources per bundle', '500')
    .option('--dry-run', 'parse and count, write nothing')
    .option('--json', 'print the summary as JSON')
    .action(async (file: string | undefined, flags: EhrFlags & { fromEhr?: boolean; types?: string; since?: string; batchSize: string; dryRun?: boolean; json?: boolean; dataDir?: string }) => {
      const config = cliConfig(flags);
      const store = await connectStore(config);
      const options = { batchSize: Number(flags.batchSize), dryRun: flags.dryRun };
      if (flags.fromEhr) {
        const { ehr, tokens } = await connectEhr(ehrSettings(flags), config.dataDir);
        process.stderr.write('$export started; waiting for the EHR...\n');
        const manifest = await runBulkExport({ ehr, tokens, types: flags.types?.split(','), since: flags.since });
        const bar = progressBar('lines', manifest.output.reduce((n, o) => n + (o.count ?? 0), 0) || 1);
        const summary = await importBulkManifest(store, manifest, { tokens }, { ...options, onProgress: (lines) => bar.update(lines) });
        bar.stop();
        run(report(summary, { json: flags.json, extra: { transactionTime: manifest.transactionTime } }));
        return;
      }
      if (!file) {
        throw new Error('give an NDJSON file (or - for stdin), or --from-ehr');
      }
      const input = file === '-' ? process.stdin : createReadStream(file);
      const bar = progressBar('MB', file === '-' ? 1 : Math.ceil(statSync(file).size / 1e6));
      const summary = await importNdjson(store, input, {
        ...options,
        source: file,
        onProgress: () => bar.update(Math.round(((input as { bytesRead?: number }).bytesRead ?? 0) / 1e6)),
      });
      bar.stop();
      run(report(summary, { json: flags.json }));
    });

  bulk
    .command('export')
    .description('export the store as NDJSON')
    .option('--out <file>', 'output file (default stdout)')
    .option('--types <types>', 'comma-separated resource types')
    .action(async (flags: { out?: string; types?: string; dataDir?: string }) => {
      const store = await connectStore(cliConfig(flags));
      const out = flags.out ? createWriteStream(flags.out) : process.stdout;
      const count = await exportNdjson(store, out, { types: flags.types?.split(',') });
      if (flags.out) {
        out.end();
        await finished(out);
      }
      process.stderr.write(`exported ${count} resources\n`);
      run(EXIT_OK);
    });
  return bulk;
}
