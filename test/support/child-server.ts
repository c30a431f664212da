/**
 * The real server (`src/main.ts`, as `npm start` runs it) in a child process, for tests that must
 * kill it abruptly. Talks plain `fetch`; no in-process state is shared with the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

export const PROJECT_ROOT = resolve(__dirname, '../..');
const NODE = resolve(PROJECT_ROOT, 'node_modules/.bin/node');

/** The documented default demo client. */
export const DEMO_CLIENT = { id: 'dermbridge-demo', secret: 'dermbridge-demo-secret' } as const;

export interface ChildServer {
  readonly process: ChildProcess;
  readonly baseUrl: string;
  /** The last lines the child wrote to stderr, for failure messages. */
  stderr(): string;
  /** Resolves with the exit code or signal once the process has exited. */
  readonly exited: Promise<string>;
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePort(port));
    });
  });
}

/** Starts `src/main.ts` on `port` with `dataDir` and waits until `/healthcheck` answers (bounded). */
export async function startChildServer(dataDir: string, port: number, readyTimeoutMs = 15_000): Promise<ChildServer> {
  const child = spawn(NODE, ['--no-warnings', '--import', 'tsx', 'src/main.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      DERMBRIDGE_DATA_DIR: dataDir,
      DERMBRIDGE_BASE_URL: `http://127.0.0.1:${port}/`,
      DERMBRIDGE_DEMO_CLIENT_ID: DEMO_CLIENT.id,
      DERMBRIDGE_DEMO_CLIENT_SECRET: DEMO_CLIENT.secret,
      DERMBRIDGE_DEMO_DATA: 'false',
      LOG_LEVEL: 'silent',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<string>((resolveExit) => child.once('exit', (code, signal) => resolveExit(signal ?? String(code))));
  const server: ChildServer = { process: child, baseUrl: `http://127.0.0.1:${port}/`, stderr: () => stderr, exited };
  const deadline = Date.now() + readyTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited before it was ready (${child.exitCode ?? child.signalCode}): ${stderr}`);
    }
    try {
      const res = await fetch(`${server.baseUrl}healthcheck`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) {
        return server;
      }
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`server not ready within ${readyTimeoutMs} ms: ${stderr}`);
}

/** A token for the demo client, through the token endpoint as any client gets one. */
export async function demoClientToken(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: DEMO_CLIENT.id, client_secret: DEMO_CLIENT.secret }),
  });
  if (!res.ok) {
    throw new Error(`token request failed: ${res.status} ${await res.text()}`);
  }
  return ((await res.json()) as { access_token: string }).access_token;
}

/** Kills the child if it is still running (SIGKILL) and waits for it to exit. */
export async function killChild(server: ChildServer | undefined): Promise<void> {
  if (server && server.process.exitCode === null && server.process.signalCode === null) {
    server.process.kill('SIGKILL');
    await server.exited;
  }
}
