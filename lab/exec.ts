/**
 * Running host tools (ip, tc, dumpcap, commands inside nodes). A thin promise wrapper around
 * child_process.spawn: no shell, input on stdin, stdout/stderr collected, a clear error naming the
 * command and its stderr when it fails.
 */
import { spawn, type StdioOptions } from 'node:child_process';

export interface RunOptions {
  /** Written to stdin, then stdin is closed. */
  input?: string;
  timeoutMs?: number;
  /** Resolve instead of rejecting on a non-zero exit. */
  allowFail?: boolean;
  /** 'pipe' (default: collect) or 'inherit' (the user's terminal). */
  stdio?: 'pipe' | 'inherit';
  env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  code: number;
  /** Set when the process died from a signal. */
  signal?: NodeJS.Signals;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly result: RunResult,
  ) {
    const detail = result.stderr.trim() || result.stdout.trim();
    super(
      `${argv.join(' ')} failed (${result.signal ?? `exit ${result.code}`})${detail ? `: ${detail}` : ''}`,
    );
    this.name = 'CommandError';
  }
}

export function run(cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const inherit = options.stdio === 'inherit';
    const stdio: StdioOptions = inherit
      ? ['inherit', 'inherit', 'inherit']
      : [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'];
    const child = spawn(cmd, args, { stdio, env: options.env });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    let timer: NodeJS.Timeout | undefined;
    if (options.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const result: RunResult = { code: code ?? 128, stdout, stderr };
      if (signal) result.signal = signal;
      if ((code === 0 && !signal) || options.allowFail) resolve(result);
      else reject(new CommandError([cmd, ...args], result));
    });
    if (options.input !== undefined && child.stdin) {
      child.stdin.on('error', () => {});
      child.stdin.end(options.input);
    }
  });
}

/** `ip [-n ns] -batch -` (with -force: keep going after an error, report the first). */
export function ipBatch(ns: string | null, lines: string[], force = false): Promise<RunResult> {
  if (lines.length === 0) return Promise.resolve({ code: 0, stdout: '', stderr: '' });
  const args = [...(ns ? ['-n', ns] : []), ...(force ? ['-force'] : []), '-batch', '-'];
  return run('ip', args, { input: `${lines.join('\n')}\n`, allowFail: force });
}

/** `tc [-n ns] -batch -`. */
export function tcBatch(ns: string | null, lines: string[], force = false): Promise<RunResult> {
  if (lines.length === 0) return Promise.resolve({ code: 0, stdout: '', stderr: '' });
  const args = [...(ns ? ['-n', ns] : []), ...(force ? ['-force'] : []), '-batch', '-'];
  return run('tc', args, { input: `${lines.join('\n')}\n`, allowFail: force });
}
