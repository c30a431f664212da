import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';

export interface MachineInfo {
  readonly date: string;
  readonly nproc: number;
  readonly cpuModel: string;
  readonly totalMemGiB: number;
  /** `free -h` as printed. */
  readonly free: string;
  readonly node: string;
  /** 1/5/15-minute load average when the run started (other processes may have been running). */
  readonly loadAverage: readonly number[];
}

export function machineInfo(): MachineInfo {
  let free = '';
  try {
    free = execFileSync('free', ['-h'], { encoding: 'utf8' }).trimEnd();
  } catch {
    free = '(free not available)';
  }
  return {
    date: new Date().toISOString(),
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    totalMemGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    free,
    node: process.version,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}
