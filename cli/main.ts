#!/usr/bin/env node
/**
 * The `mplab` command. Thin by design: parse arguments, call into lab/, render. Exit codes:
 * 0 success, 1 runtime failure, 2 usage or validation error.
 */
import { Command, CommanderError } from 'commander';
import { errorJson, exitCodeOf, MplabError } from '../lab/errors';
import { VERSION } from '../stack/version';
import { commands } from './commands/index';

/** True when the command line asks for JSON output (then errors are JSON on stdout too). */
export function wantsJson(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--json' || a === '--json-stream') return true;
  }
  return false;
}

export function buildProgram(options: { json?: boolean } = {}): Command {
  const program = new Command();
  // With --json, commander's own messages (unknown option, missing argument) become the JSON
  // error on stdout instead of text on stderr; help still prints.
  if (options.json) program.configureOutput({ writeErr: () => {} });
  program
    .name('mplab')
    .description('Multipath network labs with a TypeScript MPTCP stack: build, run, measure.')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.configureHelp({ sortSubcommands: false });
  for (const c of commands) c.register(program);
  for (const sub of program.commands) sub.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const json = wantsJson(argv);
  const program = buildProgram({ json });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version end through here with code 0; everything else commander rejects is usage.
      if (err.exitCode === 0) return 0;
      if (json) writeJsonError(err, 2);
      return 2;
    }
    const code = exitCodeOf(err);
    if (json) writeJsonError(err, code);
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`mplab: ${message}\n`);
    return code;
  }
}

function writeJsonError(err: unknown, code: 1 | 2): void {
  if (err instanceof MplabError && err.jsonReported) return;
  const e = errorJson(err, code);
  // commander prefixes its messages with "error: "
  if (err instanceof CommanderError) e.error.message = e.error.message.replace(/^error: /, '');
  process.stdout.write(`${JSON.stringify(e)}\n`);
}
