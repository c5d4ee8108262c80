/**
 * Docs true to the code: every mplab command line in README.md and docs/*.md names a command that
 * exists, only options that command has, and its required arguments. (test/integration/docs.test.ts
 * runs the ones that are safe to run.)
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/main';
import { docCommands } from '../helpers/doc-commands';

const root = join(import.meta.dirname, '../..');
const program = buildProgram();

function problems(argv: string[]): string[] {
  const [name, ...rest] = argv;
  if (name === undefined) return ['no command'];
  if (name.startsWith('-'))
    return program.options.some((o) => o.long === name || o.short === name) ? [] : [`unknown option ${name}`];
  let cmd: Command | undefined = program.commands.find(
    (c) => c.name() === name || c.aliases().includes(name),
  );
  if (!cmd) return [`unknown command '${name}'`];
  // a subcommand (campaign report, image status…)
  const sub = rest[0] !== undefined ? cmd.commands.find((c) => c.name() === rest[0]) : undefined;
  if (sub) {
    cmd = sub;
    rest.shift();
  }
  const out: string[] = [];
  const known = [...cmd.options, ...program.options];
  let positional = 0;
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i] as string;
    if (w === '--') break;
    if (w.startsWith('-') && w !== '-') {
      const flag = w.includes('=') ? w.slice(0, w.indexOf('=')) : w;
      const opt = known.find(
        (o) => o.long === flag || o.short === flag || o.long === `--no-${flag.slice(2)}`,
      );
      if (!opt) out.push(`'${cmd.name()}' has no option ${flag}`);
      else if (opt.required && !w.includes('=')) i++; // its value
      continue;
    }
    positional++;
  }
  const required = cmd.registeredArguments.filter((a) => a.required).length;
  if (positional < required)
    out.push(`'${cmd.name()}' needs ${required} argument(s), the doc gives ${positional}`);
  return out;
}

const commands = docCommands(root);

describe('the documentation’s mplab commands', () => {
  it('finds the commands the docs show', () => {
    expect(commands.length).toBeGreaterThan(8);
  });

  it.each(commands.map((c) => [`${c.file}:${c.line}`, c] as const))('%s parses', (_where, c) => {
    expect(problems(c.argv), c.text).toEqual([]);
  });

  it('the checker itself catches a stale option and an unknown command', () => {
    expect(problems(['run', 'a', 'b', '--no-such-flag'])).toEqual(["'run' has no option --no-such-flag"]);
    expect(problems(['frobnicate'])).toEqual(["unknown command 'frobnicate'"]);
  });
});
