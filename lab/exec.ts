/**
 * Running host tools (ip, tc, dumpcap, commands inside nodes) through execa: no shell, input on
 * stdin, stdout/stderr collected, a clear error naming the command and its stderr when it fails.
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';

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

export interface CommandResult {
  code: number;
  /** Set when the process died from a signal. */
  signal?: NodeJS.Signals;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly result: CommandResult,
  ) {
    const detail = result.stderr.trim() || result.stdout.trim();
    super(
      `${argv.join(' ')} failed (${result.signal ?? `exit ${result.code}`})${detail ? `: ${detail}` : ''}`,
    );
    this.name = 'CommandError';
  }
}

export async function run(cmd: string, args: string[], options: RunOptions = {}): Promise<CommandResult> {
  const inherit = options.stdio === 'inherit';
  const r = await execa(cmd, args, {
    reject: false,
    stripFinalNewline: false,
    ...(inherit
      ? { stdin: 'inherit' as const }
      : options.input === undefined
        ? { stdin: 'ignore' as const }
        : { input: options.input }),
    stdout: inherit ? 'inherit' : 'pipe',
    stderr: inherit ? 'inherit' : 'pipe',
    ...(options.timeoutMs ? { timeout: options.timeoutMs, killSignal: 'SIGKILL' as const } : {}),
    ...(options.env ? { env: options.env, extendEnv: false } : {}),
  });
  // A command that could not start at all (ENOENT, EACCES) is an error whatever allowFail says.
  if (r.exitCode === undefined && !r.signal) throw r.cause instanceof Error ? r.cause : new Error(r.message);
  const result: CommandResult = {
    code: r.exitCode ?? 128,
    stdout: typeof r.stdout === 'string' ? r.stdout : '',
    stderr: typeof r.stderr === 'string' ? r.stderr : '',
  };
  if (r.signal) result.signal = r.signal;
  if ((result.code === 0 && !r.signal) || options.allowFail) return result;
  throw new CommandError([cmd, ...args], result);
}

/** `ip [-n ns] -batch -` (with -force: keep going after an error, report the first). */
export function ipBatch(ns: string | null, lines: string[], force = false): Promise<CommandResult> {
  if (lines.length === 0) return Promise.resolve({ code: 0, stdout: '', stderr: '' });
  const args = [...(ns ? ['-n', ns] : []), ...(force ? ['-force'] : []), '-batch', '-'];
  return run('ip', args, { input: `${lines.join('\n')}\n`, allowFail: force });
}

/** `tc [-n ns] -batch -`. */
export function tcBatch(ns: string | null, lines: string[], force = false): Promise<CommandResult> {
  if (lines.length === 0) return Promise.resolve({ code: 0, stdout: '', stderr: '' });
  const args = [...(ns ? ['-n', ns] : []), ...(force ? ['-force'] : []), '-batch', '-'];
  return run('tc', args, { input: `${lines.join('\n')}\n`, allowFail: force });
}

/** Where a command is on PATH (sbin included: root's tools live there), or undefined. */
export function findOnPath(cmd: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}
