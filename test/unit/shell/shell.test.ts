/** The lab shell's parts that need no lab: word splitting, completion, dispatch of a line. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Lab } from '../../../lab/lab';
import { loadTopology } from '../../../lab/topology/index';
import { LabShell } from '../../../cli/shell/shell';
import { splitWords } from '../../../cli/shell/words';

describe('splitWords', () => {
  it('splits like sh: quotes, escapes, empty words', () => {
    expect(splitWords(`a  ping -c 1 b`)).toEqual(['a', 'ping', '-c', '1', 'b']);
    expect(splitWords(`a sh -c 'echo "x y"; true'`)).toEqual(['a', 'sh', '-c', 'echo "x y"; true']);
    expect(splitWords(`a echo "one \\"two\\"" three\\ four ''`)).toEqual([
      'a',
      'echo',
      'one "two"',
      'three four',
      '',
    ]);
    expect(() => splitWords(`a echo 'open`)).toThrow(/unterminated single quote/);
  });
});

async function fakeShell() {
  const model = await loadTopology(new URL('../../../topologies/ietf-livecd.yaml', import.meta.url).pathname);
  const execs: string[][] = [];
  const cliCalls: string[][] = [];
  const lab = {
    name: 'demo1',
    model,
    exec: async (node: string, argv: string[]) => {
      execs.push([node, ...argv]);
      return { code: argv.includes('10.0.2.1') ? 1 : 0, stdout: `ran in ${node}\n`, stderr: '' };
    },
  } as unknown as Lab;
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => {
    text += String(d);
  });
  const shell = new LabShell(
    lab,
    { input: new PassThrough(), output: out, terminal: false },
    {
      labCommands: new Set(['report', 'sysctl', 'link', 'run']),
      run: async (argv) => {
        cliCalls.push(argv);
        return 0;
      },
    },
  );
  return { shell, execs, cliCalls, output: () => text };
}

describe('LabShell', () => {
  it('completes commands and nodes first, endpoints after link, knobs after sysctl NODE', async () => {
    const { shell } = await fakeShell();
    expect(shell.complete('pin')).toEqual([['pingall'], 'pin']);
    expect(shell.complete('cl')[0]).toEqual(['client']);
    expect(shell.complete('link client:')[0]).toEqual(['client:3g', 'client:wifi']);
    expect(shell.complete('sysctl client net.mptcp.mptcp_sch')[0]).toContain('net.mptcp.mptcp_scheduler');
    expect(shell.complete('xyz')[0]).toEqual([]);
  });

  it('runs node commands with node names as addresses, and mplab commands on its lab', async () => {
    const { shell, execs, cliCalls, output } = await fakeShell();
    expect(await shell.line('client ping -c 1 server')).toBe(true);
    expect(execs).toEqual([['client', 'ping', '-c', '1', '10.0.5.2']]);
    expect(await shell.line('report server')).toBe(true);
    expect(cliCalls).toEqual([['report', 'server', '--lab', 'demo1']]);
    expect(await shell.line('frobnicate')).toBe(true);
    expect(output()).toMatch(/'frobnicate' is neither a node nor a command/);
    expect(await shell.line('# a comment')).toBe(true);
    expect(await shell.line('exit')).toBe(false);
  });

  it('pingall pings every other host and counts what came back', async () => {
    const { shell, output } = await fakeShell();
    // the fake lab fails pings to 10.0.2.1 only; the demo's hosts are client and server
    const r = await shell.pingall();
    expect(r).toEqual({ sent: 2, received: 2 });
    expect(output()).toMatch(
      /client -> server\nserver -> client\n\*\*\* Results: 0% dropped \(2\/2 received\)/,
    );
  });
});
