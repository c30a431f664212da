import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

/** The repository root (bench/ is one level down). */
export const REPO_ROOT = resolve(__dirname, '..');
const NODE = join(REPO_ROOT, 'node_modules', '.bin', 'node');

export const DEMO_CLIENT_ID = 'dermbridge-demo';
export const DEMO_CLIENT_SECRET = 'dermbridge-demo-secret';

/** Resident memory of a process, from /proc/<pid>/status (Linux). */
export interface MemoryUsage {
  /** VmRSS: resident now, MiB. */
  readonly rssMiB: number;
  /** VmHWM: peak resident since start, MiB. */
  readonly peakRssMiB: number;
}

export function readMemory(pid: number): MemoryUsage {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) : Number.NaN;
  };
  return { rssMiB: kib('VmRSS') / 1024, peakRssMiB: kib('VmHWM') / 1024 };
}

/** User + system CPU time of a process in ms, from /proc/<pid>/stat (fields 14 and 15, clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may contain spaces; count fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}

/**
 * The real server (`src/main.ts`) as a child process on a free port and a given data directory,
 * exactly as `npm start` runs it minus the demo data.
 */
export class ServerProcess {
  /** Milliseconds from spawn to the first `GET /healthcheck` that answered 200. */
  readonly readyAfterMs: number;

  private constructor(
    private readonly child: ChildProcess,
    readonly baseUrl: string,
    readonly logFile: string,
    readyAfterMs: number
  ) {
    this.readyAfterMs = readyAfterMs;
  }

  static async start(dataDir: string, logFile: string): Promise<ServerProcess> {
    const port = await freePort();
    const log = createWriteStream(logFile, { flags: 'a' });
    const started = performance.now();
    const child = spawn(NODE, [...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean), '--no-warnings', '--import', 'tsx', 'src/main.ts'], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        DERMBRIDGE_DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
        // A full run lasts longer than the default token lifetime might in future; never expire mid-run.
        DERMBRIDGE_TOKEN_LIFETIME_SECONDS: '86400',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const baseUrl = `http://127.0.0.1:${port}`;
    let exited = false;
    child.once('exit', () => (exited = true));
    const deadline = started + 120_000;
    for (;;) {
      if (exited) {
        throw new Error(`server exited during start-up; see ${logFile}:\n${tail(logFile)}`);
      }
      if (performance.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`server not ready after 120 s; see ${logFile}`);
      }
      try {
        const res = await fetch(`${baseUrl}/healthcheck`);
        if (res.ok) {
          await res.arrayBuffer();
          break;
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return new ServerProcess(child, baseUrl, logFile, performance.now() - started);
  }

  get pid(): number {
    if (this.child.pid === undefined) {
      throw new Error('server has no pid');
    }
    return this.child.pid;
  }

  memory(): MemoryUsage {
    return readMemory(this.pid);
  }

    /**
   * Waits until the server has stopped working off requests a finished load left behind
   * (autocannon closes its sockets at the deadline; the server still completes what it had read):
   * until its CPU time grows by less than 5 ms over 100 ms, or 20 s at most.
   */
  async waitIdle(): Promise<void> {
    const deadline = performance.now() + 20_000;
    let before = cpuMs(this.pid);
    while (performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      const now = cpuMs(this.pid);
      if (now - before < 5) {
        return;
      }
      before = now;
    }
  }

  /** A bearer token for the demo client (`system/*` scopes) via `POST /oauth2/token`. */
  async token(): Promise<string> {
    const res = await fetch(`${this.baseUrl}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: DEMO_CLIENT_ID, client_secret: DEMO_CLIENT_SECRET }),
    });
    const body = (await res.json()) as { access_token?: string; error?: string };
    if (!res.ok || !body.access_token) {
      throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
    }
    return body.access_token;
  }

  /** SIGTERM (graceful: finishes in-flight requests, drains writes), SIGKILL after 30 s. Resolves with the ms it took. */
  async stop(): Promise<number> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return 0;
    }
    const started = performance.now();
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
    return performance.now() - started;
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '';
  }
}
