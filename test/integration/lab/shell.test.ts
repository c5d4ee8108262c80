/**
 * `mplab shell` driven through a real pseudo-terminal (util-linux `script` gives it one): the
 * prompt, Tab completion, a node command with a node's name as an address, pingall over the real
 * lab, an mplab command aimed at the lab, history written on exit.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lab } from '../../../lab/lab';
import { caps } from '../../helpers/caps';
import { shellQuote } from '../../../lab/remote/ssh';
import { ensureDistAgent, root } from './bundle';
import { labName, labScope, leftovers, NOTHING } from './helpers';

const hasScript = existsSync('/usr/bin/script');

describe.skipIf(!caps.netns || !caps.ping || !hasScript)('mplab shell', () => {
  labScope();

  it('works at a terminal: completion, node commands, pingall, report, history', async () => {
    await ensureDistAgent();
    const name = labName('sh');
    const lab = await Lab.up(join(root, 'topologies/two-host.yaml'), { name });
    const state = mkdtempSync(join(tmpdir(), 'mplab-shell-'));
    try {
      const cmd = shellQuote([process.execPath, '--import', 'tsx', join(root, 'cli/bin.ts'), 'shell', name]);
      const child = spawn('script', ['-qfec', cmd, '/dev/null'], {
        cwd: root,
        env: { ...process.env, XDG_STATE_HOME: state, TERM: 'xterm' },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
      });
      const waitFor = async (re: RegExp, what: string) => {
        const t0 = Date.now();
        while (!re.test(out)) {
          if (Date.now() - t0 > 60_000) throw new Error(`shell: no ${what} in:\n${out}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await waitFor(/mplab:\S+> /, 'prompt');
      child.stdin.write('a ping -c 1 -W 2 b\r');
      await waitFor(/1 received/, 'ping reply');
      // Tab completes "pinga" to the only command it can be (a key on its own: readline takes a Tab
      // inside a longer chunk as pasted text)
      const key = async (k: string) => {
        child.stdin.write(k);
        await new Promise((r) => setTimeout(r, 300));
      };
      await key('pinga');
      await key('\t');
      await key('\r');
      await waitFor(/Results: 0% dropped \(2\/2 received\)/, 'pingall result');
      child.stdin.write('report b\r');
      await waitFor(/MPTCP|mapping|MIB/i, 'report');
      child.stdin.write('exit\r');
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code).toBe(0);
      expect(out).toContain('a -> b');
      const history = readFileSync(join(state, 'mplab/shell_history'), 'utf8');
      expect(history).toMatch(/a ping -c 1 -W 2 b\npingall\nreport b\nexit\n/);
    } finally {
      rmSync(state, { recursive: true, force: true });
      await lab.down();
    }
    expect(leftovers(name)).toEqual(NOTHING);
  });
});
