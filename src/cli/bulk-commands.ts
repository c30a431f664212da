/** `dermbridge bulk import|export` */
import type { MedplumClient } from '@medplum/core';
import { Command } from 'commander';
import { Readable } from 'node:stream';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { importBulkManifest, runBulkExport } from '../sync/bulk/bulk-export-client';
import { exportNdjson } from '../sync/bulk/ndjson-export';
import { importNdjson, type ImportOptions } from '../sync/bulk/ndjson-import';
import { emptySummary, type SyncSummary } from '../sync/sync-summary';
import { connectEhr } from '../sync/ehr-settings';
import { cliConfig, connectStore, ehrSettings, EXIT_OK, progressBar, report, type EhrFlags } from './cli-context';
import { withEhrOptions } from './ehr-options';

/**
 * Into the embedded dermbridge server: the file is streamed to `POST /admin/bulk/import`, which
 * runs the store's bulk write path (a transaction per batch) rather than one Bundle per batch.
 */
async function importViaAdminApi(baseUrl: string, store: MedplumClient, input: Readable, options: ImportOptions): Promise<SyncSummary> {
  const progress = setInterval(() => options.onProgress?.(0, emptySummary()), 500);
  try {
    const query = new URLSearchParams({ source: options.source ?? 'input', ...(options.dryRun ? { dryRun: 'true' } : {}) });
    const res = await fetch(`${baseUrl}admin/bulk/import?${query}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${store.getAccessToken() ?? ''}`, 'content-type': 'application/fhir+ndjson' },
      body: Readable.toWeb(input) as ReadableStream<Uint8Array>,
      duplex: 'half',
    } as RequestInit);
    const body = (await res.json()) as { summary?: SyncSummary; detail?: string; title?: string };
    if (!body.summary) {
      throw new Error(`POST /admin/bulk/import answered HTTP ${res.status}: ${body.detail ?? body.title ?? 'no summary'}`);
    }
    return body.summary;
  } finally {
    clearInterval(progress);
    options.onProgress?.(0, emptySummary());
  }
}

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
      const onProgress = (): void => bar.update(Math.round(((input as { bytesRead?: number }).bytesRead ?? 0) / 1e6));
      const summary =
        config.store.kind === 'medplum'
          ? await importNdjson(store, input, { ...options, source: file, onProgress })
          : await importViaAdminApi(config.baseUrl, store, input, { ...options, source: file, onProgress });
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
