/** `dermbridge sync pull|push|status` */
import { Command } from 'commander';
import { connectEhr } from '../sync/ehr-settings';
import { pullSync } from '../sync/pull/pull-sync';
import { pushResults } from '../sync/push/push-results';
import { formatSyncStatus, readSyncStatus } from '../sync/sync-status';
import { cliConfig, connectStore, ehrSettings, EXIT_FAILED, EXIT_OK, progressBar, report, type EhrFlags } from './cli-context';
import { withEhrOptions } from './ehr-options';

interface CommonFlags extends EhrFlags {
  dataDir?: string;
  dryRun?: boolean;
  json?: boolean;
}

export function syncCommand(run: (code: number) => void): Command {
  const sync = new Command('sync').description('incremental sync with an EHR (SMART Backend Services)');

  withEhrOptions(sync.command('pull'))
    .description('pull e-consult ServiceRequests and their patient context from the EHR into the store')
    .option('--page-size <n>', 'ServiceRequests per page', '50')
    .option('--max-pages <n>', 'stop after this many pages (the next run resumes from the checkpoint)')
    .option('--dry-run', 'read the EHR and the store, write nothing, report what would change')
    .option('--json', 'print the summary as JSON')
    .action(async (flags: CommonFlags & { pageSize: string; maxPages?: string }) => {
      const config = cliConfig(flags);
      const settings = ehrSettings(flags);
      const { ehr } = await connectEhr(settings, config.dataDir, { onRetry: (r) => process.stderr.write(`EHR busy (HTTP ${r.status ?? 'error'}), retrying in ${Math.round(r.delayMs)} ms\n`) });
      const bar = progressBar('pages', 1);
      const result = await pullSync({
        ehr,
        store: await connectStore(config),
        ehrName: settings.name,
        mrnSystem: settings.mrnSystem,
        serviceRequestQuery: settings.serviceRequestQuery,
        pageSize: Number(flags.pageSize),
        stopAfterPages: flags.maxPages ? Number(flags.maxPages) : undefined,
        dryRun: flags.dryRun,
        onPage: ({ pages }) => bar.update(pages, pages + 1),
      });
      bar.stop();
      if (!result.complete && !result.summary.aborted) {
        process.stderr.write(`stopped after ${result.pages} pages as asked; the next pull resumes from ${result.checkpoint ?? 'the beginning'}\n`);
      }
      run(report(result.summary, { json: flags.json, extra: { pages: result.pages, serviceRequests: result.serviceRequests, checkpoint: result.checkpoint, complete: result.complete } }));
    });

  withEhrOptions(sync.command('push'))
    .description('write completed results (DiagnosticReport, Communication, referral) back to the referring EHR')
    .option('--retry-now', 'retry failed pushes now instead of at their scheduled time')
    .option('--dry-run', 'report what would be written, write nothing')
    .option('--json', 'print the summary as JSON')
    .action(async (flags: CommonFlags & { retryNow?: boolean }) => {
      const config = cliConfig(flags);
      const settings = ehrSettings(flags);
      const { ehr } = await connectEhr(settings, config.dataDir);
      let done = 0;
      const summary = await pushResults({
        ehr,
        store: await connectStore(config),
        ehrName: settings.name,
        dryRun: flags.dryRun,
        retryNow: flags.retryNow,
        onResult: (n) => {
          done = n;
        },
      });
      run(report(summary, { json: flags.json, extra: { results: done } }));
    });

  sync
    .command('status')
    .description('pull checkpoint, last run, and results that did not reach the EHR')
    .requiredOption('--ehr-name <name>', 'the EHR name used by pull/push')
    .option('--json', 'print as JSON')
    .action(async (flags: { ehrName: string; json?: boolean; dataDir?: string }) => {
      const status = await readSyncStatus(await connectStore(cliConfig(flags)), flags.ehrName);
      process.stdout.write((flags.json ? JSON.stringify(status, null, 2) : formatSyncStatus(status)) + '\n');
      run(status.push.failed.length > 0 ? EXIT_FAILED : EXIT_OK);
    });
  return sync;
}
