/**
 * One meaning per flag across the CLI: a short flag stands for the same long option in every
 * command that has it; the unit grammar is the same for times everywhere; malformed numbers are
 * usage errors (exit 2), not runtime failures.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../../cli/main';
import { runCli } from '../helpers/cli';

async function code(args: string[]): Promise<number> {
  return (await runCli(args)).code;
}

afterEach(() => vi.restoreAllMocks());

describe('CLI options', () => {
  it('each short flag means one long option across all commands', () => {
    const meaning = new Map<string, Set<string>>();
    const walk = (cmds: ReturnType<typeof buildProgram>['commands']) => {
      for (const c of cmds) {
        for (const o of c.options) {
          if (!o.short) continue;
          const s = meaning.get(o.short) ?? new Set<string>();
          s.add(o.long ?? '');
          meaning.set(o.short, s);
        }
        walk(c.commands);
      }
    };
    walk(buildProgram().commands);
    const clashes = [...meaning]
      .filter(([, longs]) => longs.size > 1)
      .map(([s, l]) => `${s}: ${[...l].join(', ')}`);
    expect(clashes).toEqual([]);
    expect(meaning.size).toBeGreaterThan(3);
  });

  it('malformed numbers are usage errors (exit 2)', async () => {
    expect(await code(['run', 'a', 'b', '--sim', '-t', 'topologies/two-host.yaml', '--port', 'abc'])).toBe(2);
    expect(await code(['run', 'a', 'b', '--sim', '-t', 'topologies/two-host.yaml', '--port', '70000'])).toBe(
      2,
    );
    expect(await code(['run', 'a', 'b', '--sim', '-t', 'topologies/two-host.yaml', '--time', 'soon'])).toBe(
      2,
    );
  });
});
