#!/usr/bin/env node
/**
 * The `mplab` command. Thin by design: parse arguments, call into lab/, render. Exit codes:
 * 0 success, 1 runtime failure, 2 usage or validation error.
 */
import { Command, CommanderError } from 'commander';
import { exitCodeOf } from '../lab/errors';
import { VERSION } from '../stack/version';
import { commands } from './commands/index';

export function buildProgram(): Command {
  const program = new Command();
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
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version end through here with code 0; everything else commander rejects is usage.
      return err.exitCode === 0 ? 0 : 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`mplab: ${message}\n`);
    return exitCodeOf(err);
  }
}
