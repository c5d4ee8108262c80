/**
 * The bundled CLI as a child process, as a user runs it: one home for the spawn, the stdout/stderr
 * capture and the kill on timeout that the integration tests share (the in-process variant is
 * test/helpers/cli.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { root } from '../../scripts/bundle';

export interface CliExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** performance.now() when the process closed. */
  at: number;
}

export interface CliProcess {
  child: ChildProcess;
  done: Promise<CliExit>;
  /** What it printed on stdout so far (for tests that act while it runs). */
  out(): string;
}

export interface SpawnCliOptions {
  /** Killed with SIGKILL after this long (default 60 s). */
  timeoutMs?: number;
  /** The agent bundle the CLI deploys (MPLAB_AGENT); omitted = the environment's. */
  agent?: string;
  /** The emulator from source (bundles made by the tests carry no emulator.js). */
  emulatorFromSource?: boolean;
  env?: NodeJS.ProcessEnv;
}

export function spawnCli(cli: string, args: string[], o: SpawnCliOptions = {}): CliProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, ...o.env };
  if (o.agent !== undefined) env.MPLAB_AGENT = o.agent;
  if (o.emulatorFromSource) env.MPLAB_EMULATOR = join(root, 'lab/emulator/main.ts');
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const done = new Promise<CliExit>((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr, at: performance.now() });
    });
  });
  return { child, done, out: () => stdout };
}
