/** What a sync, push or import did: counts per outcome and the reason for each failure. */

export interface SyncFailure {
  /** What failed, e.g. `Condition/abc` (EHR id) or `line 1234`. */
  readonly item: string;
  readonly reason: string;
}

export interface SyncSummary {
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  /** The first failures (capped, so a million bad lines cannot exhaust memory). */
  readonly failures: SyncFailure[];
  /** Set when the run stopped before the end (paging loop, EHR down, aborted): the reason. */
  aborted?: string;
  dryRun: boolean;
}

export const MAX_REPORTED_FAILURES = 200;

export function emptySummary(dryRun = false): SyncSummary {
  return { created: 0, updated: 0, unchanged: 0, failed: 0, failures: [], dryRun };
}

export function recordFailure(summary: SyncSummary, item: string, reason: string): void {
  summary.failed++;
  if (summary.failures.length < MAX_REPORTED_FAILURES) {
    summary.failures.push({ item, reason });
  }
}

export function changes(summary: SyncSummary): number {
  return summary.created + summary.updated;
}

/** One line for logs and the CLI. */
export function formatSummary(summary: SyncSummary): string {
  const head = `${summary.dryRun ? '[dry run] ' : ''}created ${summary.created}, updated ${summary.updated}, unchanged ${summary.unchanged}, failed ${summary.failed}`;
  const lines = [head, ...summary.failures.map((f) => `  failed ${f.item}: ${f.reason}`)];
  if (summary.failed > summary.failures.length) {
    lines.push(`  ... and ${summary.failed - summary.failures.length} more failures`);
  }
  if (summary.aborted) {
    lines.push(`  stopped early: ${summary.aborted}`);
  }
  return lines.join('\n');
}

/** Whether the run should exit non-zero. */
export function hasFailed(summary: SyncSummary): boolean {
  return summary.failed > 0 || summary.aborted !== undefined;
}
