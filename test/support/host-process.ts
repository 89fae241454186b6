// The dev Functions host running the built bundle as a child process, so a test can kill it with SIGKILL (a worker
// dying mid-blob) and start another. Azurite and the simulator stay in the test's process and survive the kill.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './fixtures';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(everyMs);
  }
}

/** The test's environment without the test runner's own markers and without any relay settings of the caller. */
function inherited(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !/^(NODE_TEST_CONTEXT$|O365_|AzureWebJobs)/.test(e[0])));
}

export interface HostProcessOptions {
  label: string;
  port: number;
  env: Record<string, string>;
  /** host.json for the run, relative to the repo. */
  hostJson: string;
  /** Seconds a running queue message stays invisible (short, so a killed worker's message comes back soon). */
  messageLeaseSeconds: number;
}

/** One run of the dev host; everything it prints is kept (for a failure report and for secret scans). */
export class HostProcess {
  readonly output: string[] = [];
  readonly exited: Promise<NodeJS.Signals | number | null>;
  readonly startedAt = Date.now();
  private readonly child: ChildProcess;

  constructor(readonly options: HostProcessOptions) {
    this.child = spawn(
      process.execPath,
      [path.join(repoRoot, 'dist', 'dev', 'host', 'main.js'), '--app', '.', '--port', String(options.port), '--host-json', options.hostJson, '--message-lease', String(options.messageLeaseSeconds)],
      { cwd: repoRoot, env: { ...inherited(), ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (chunk: Buffer) => this.output.push(chunk.toString('utf8'));
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve(signal ?? code)));
  }

  get label(): string {
    return this.options.label;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(signal: NodeJS.Signals): Promise<void> {
    if (this.running) this.child.kill(signal);
    await this.exited;
  }

  tail(): string {
    return `--- ${this.label} (last output) ---\n${this.output.join('').slice(-6000)}`;
  }
}

/** Starts a host and waits until its webhook answers a validation request (a host that never does is killed). */
export async function startHost(options: HostProcessOptions, webhookUrl: string, authId: string): Promise<HostProcess> {
  const host = new HostProcess(options);
  try {
    await until(`${options.label} answers its webhook`, async () => {
      if (!host.running) throw new Error(`${options.label} exited\n${host.tail()}`);
      const answer = await fetch(webhookUrl, { method: 'POST', headers: { 'Webhook-AuthID': authId }, body: '{"validationCode":"ready?"}' }).catch(() => undefined);
      return answer?.status === 200;
    }, 20_000, 100);
  } catch (err) {
    await host.stop('SIGKILL');
    throw err;
  }
  return host;
}
