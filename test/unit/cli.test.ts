import { afterEach, describe, expect, it, vi } from 'vitest';
import { ARCHITECTURE_COMMANDS } from '../helpers/commands';
import { runCli } from '../helpers/cli';

const COMMANDS = ARCHITECTURE_COMMANDS;

afterEach(() => vi.restoreAllMocks());

describe('mplab CLI frame', () => {
  it('--help lists every command of the architecture', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.out).toMatch(new RegExp(`^\\s+${c}\\b`, 'm'));
  });

  it.each(COMMANDS)('%s --help explains the command', async (c) => {
    const r = await runCli([c, '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Usage: mplab ${c}`);
  });

  it('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('an unknown command is a usage error (exit 2)', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown command/);
  });
});
