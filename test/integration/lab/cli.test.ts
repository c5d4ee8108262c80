/**
 * The lab commands through the real, bundled `mplab` binary: validation errors (exit 2, file:line:col,
 * nothing created), the up/status/exec/link/capture/down cycle with --json, exit codes passed
 * through by exec, and kill -9 of the CLI in the middle of `up` followed by `down`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../../helpers/spawn-cli';
import { readState } from '../../../lab/state';
import { caps } from '../../helpers/caps';
import { type Bundle, bundle, root } from './bundle';
import { labName, labScope, leftovers, NOTHING } from './helpers';

const fixtures = join(root, 'test/integration/lab/fixtures');
const bad = join(root, 'test/fixtures/topologies/bad');
let b: Bundle;

async function mplab(
  args: string[],
  timeoutMs = 60_000,
): Promise<{ code: number; out: string; err: string }> {
  const r = await spawnCli(b.cli, args, { timeoutMs }).done;
  return { code: r.code ?? 128, out: r.stdout, err: r.stderr };
}

describe.skipIf(!caps.netns)('mplab lab commands (bundled CLI, root)', () => {
  labScope();
  beforeAll(async () => {
    b = await bundle();
  }, 120_000);
  afterAll(() => b?.remove());

  const cases: [string, RegExp][] = [
    ['yaml-syntax.yaml', /yaml-syntax\.yaml:\d+:\d+: /],
    ['unknown-key-top.yaml', /unknown-key-top\.yaml:\d+:\d+: .*did you mean/i],
    ['wrong-type-mtu.yaml', /wrong-type-mtu\.yaml:\d+:\d+: /],
    ['dangling-endpoint.yaml', /dangling-endpoint\.yaml:\d+:\d+: /],
    ['duplicate-node.yaml', /duplicate-node\.yaml:\d+:\d+: /],
    ['rate-unknown-unit.yaml', /rate-unknown-unit\.yaml:\d+:\d+: /],
    ['address-clash.yaml', /address-clash\.yaml:\d+:\d+: /],
  ];
  it.each(cases)('up %s: exit 2, file:line:col, nothing created', async (file, re) => {
    const name = labName('v');
    const r = await mplab(['up', join(bad, file), '--name', name]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(re);
    expect(leftovers(name)).toEqual(NOTHING);
  });

  it('usage errors exit 2: no lab, unknown node, bad unit', async () => {
    const none = await mplab(['status', `nolab${process.pid}`]);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/no lab named/);
    const missing = await mplab(['up', join(fixtures, 'does-not-exist.yaml'), '--name', labName('m')]);
    expect(missing.code).toBe(2);
  });

  // capture runs dumpcap (tshark's package)
  it.skipIf(!caps.tshark)('up, status, exec, link, capture and down with --json', async () => {
    const name = labName('p');
    const up = await mplab(['up', join(fixtures, 'plain-two-host.yaml'), '--name', name, '--json']);
    expect(up.err).toBe('');
    expect(up.code).toBe(0);
    const u = JSON.parse(up.out) as { lab: string; nodes: number; links: number; ms: number };
    expect(u).toMatchObject({ lab: name, nodes: 2, links: 2 });

    const st = JSON.parse((await mplab(['status', name, '--json'])).out) as {
      nodes: { name: string; exists: boolean }[];
      links: { id: string; up: boolean; via: string; ab: { rateMbps?: number } }[];
    };
    expect(st.nodes.map((n) => [n.name, n.exists])).toEqual([
      ['a', true],
      ['b', true],
    ]);
    expect(st.links.every((l) => l.up && l.via === 'tc' && l.ab.rateMbps === 50)).toBe(true);

    // exec: output and exit code pass through
    const ok = await mplab([
      'exec',
      'a',
      '--lab',
      name,
      '--',
      'ip',
      '-4',
      '-o',
      'addr',
      'show',
      'dev',
      'eth2',
    ]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/10\.0\.2\.1\/24/);
    const fail = await mplab(['exec', 'b', '--lab', name, '--', 'sh', '-c', 'exit 7']);
    expect(fail.code).toBe(7);

    // capture while the other end sends a few UDP datagrams to this one
    const pcap = join(tmpdir(), `mplab-${name}.pcap`);
    const cap = spawn(process.execPath, [
      b.cli,
      'capture',
      'b:eth1',
      '--lab',
      name,
      '-o',
      pcap,
      '--count',
      '5',
      '--filter',
      'udp port 9999',
      '--time',
      '30',
      '--json',
    ]);
    let capOut = '';
    cap.stdout?.setEncoding('utf8').on('data', (d: string) => {
      capOut += d;
    });
    // send once dumpcap is capturing (the command says so on stderr)
    let capErr = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`capture did not start: ${capErr}`)), 20_000);
      cap.stderr?.setEncoding('utf8').on('data', (d: string) => {
        capErr += d;
        if (capErr.includes('capturing on')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    const send = await mplab([
      'exec',
      'a',
      '--lab',
      name,
      '--',
      'python3',
      '-c',
      "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);[s.sendto(b'mplab'*10,('10.0.1.2',9999)) for _ in range(5)]",
    ]);
    expect(send.code).toBe(0);
    await new Promise<void>((r) => cap.on('close', () => r()));
    const c = JSON.parse(capOut) as { packets: number; file: string };
    expect(c.packets).toBe(5);
    const magic = readFileSync(pcap).readUInt32LE(0);
    expect(magic).toBe(0xa1b2c3d4);
    if (caps.tshark) {
      const t = spawn('tshark', ['-r', pcap, '-Y', 'udp.dstport == 9999', '-T', 'fields', '-e', 'ip.dst']);
      let lines = '';
      t.stdout.setEncoding('utf8').on('data', (d: string) => {
        lines += d;
      });
      await new Promise<void>((r) => t.on('close', () => r()));
      expect(
        lines
          .trim()
          .split('\n')
          .filter((l) => l === '10.0.1.2').length,
      ).toBe(5);
    }
    rmSync(pcap, { force: true });

    const l = await mplab(['link', 'a:eth2', '--lab', name, '--rate', '10mbit', '--dir', 'egress', '--json']);
    expect(l.code).toBe(0);
    expect(JSON.parse(l.out)).toMatchObject({ ab: { rateMbps: 10 }, ba: { rateMbps: 50 } });
    const bu = await mplab(['link', 'a:eth2', '--lab', name, '--rate', '10parsecs']);
    expect(bu.code).toBe(2);
    const d = await mplab(['link', 'a:eth2', '--lab', name, '--down', '--json']);
    expect(JSON.parse(d.out)).toMatchObject({ up: false });

    const down = await mplab(['down', name, '--json']);
    expect(down.code).toBe(0);
    expect(JSON.parse(down.out)).toMatchObject([{ lab: name, existed: true }]);
    expect(leftovers(name)).toEqual(NOTHING);
    const again = await mplab(['down', name, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject([{ lab: name, existed: false }]);
  });

  it('two labs from the same file come up side by side and go down independently', async () => {
    const [x, y] = [labName('x'), labName('y')];
    const [ux, uy] = await Promise.all([
      mplab(['up', join(fixtures, 'plain-two-host.yaml'), '--name', x, '--json']),
      mplab(['up', join(fixtures, 'plain-two-host.yaml'), '--name', y, '--json']),
    ]);
    expect([ux.code, uy.code, ux.err, uy.err]).toEqual([0, 0, '', '']);
    // same addresses in both labs, each in its own namespaces
    const ax = await mplab(['exec', 'a', '--lab', x, '--', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth1']);
    const ay = await mplab(['exec', 'a', '--lab', y, '--', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth1']);
    expect(ax.out).toMatch(/10\.0\.1\.1\/24/);
    expect(ay.out).toMatch(/10\.0\.1\.1\/24/);
    // with two labs up, a command without a lab name is ambiguous
    const amb = await mplab(['status']);
    expect(amb.code).toBe(2);
    expect((await mplab(['down', x])).code).toBe(0);
    expect(leftovers(x)).toEqual(NOTHING);
    expect(leftovers(y).namespaces).toHaveLength(2);
    expect((await mplab(['down', y])).code).toBe(0);
    expect(leftovers(y)).toEqual(NOTHING);
  });

  it('Ctrl-C in the middle of up: exit 1 after removing what was built', async () => {
    const name = labName('i');
    const p = spawn(process.execPath, [b.cli, 'up', join(fixtures, 'chain40.yaml'), '--name', name], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr?.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && leftovers(name).namespaces.length === 0)
      await new Promise((r) => setTimeout(r, 1));
    p.kill('SIGINT');
    const code = await new Promise<number | null>((r) => p.on('close', (c) => r(c)));
    expect(code).toBe(1);
    expect(err).toMatch(/interrupted/);
    expect(leftovers(name)).toEqual(NOTHING);
  });

  it('kill -9 of the CLI in the middle of up, then down: nothing left', async () => {
    const name = labName('k');
    const p: ChildProcess = spawn(
      process.execPath,
      [b.cli, 'up', join(fixtures, 'chain40.yaml'), '--name', name],
      {
        stdio: 'ignore',
      },
    );
    // kill as soon as the first namespaces exist: the build is mid-way
    const deadline = Date.now() + 20_000;
    let phase: string | undefined;
    while (Date.now() < deadline) {
      if (leftovers(name).namespaces.length > 0) {
        p.kill('SIGKILL');
        phase = readState(name)?.phase;
        break;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await new Promise<void>((r) =>
      p.exitCode !== null || p.signalCode !== null ? r() : p.on('close', () => r()),
    );
    expect(phase).toBe('creating');
    expect(leftovers(name).namespaces.length).toBeGreaterThan(0);
    expect(readState(name)?.namespaces.length).toBe(40);

    const down = await mplab(['down', name, '--json']);
    expect(down.code).toBe(0);
    expect(leftovers(name)).toEqual(NOTHING);
    // nothing else of this lab in the host namespace either (veths are created inside the nodes)
    const hostLinks = readdirSync('/sys/class/net');
    expect(
      hostLinks.filter((n) => n.startsWith('mpl') && statSync(`/sys/class/net/${n}`).isDirectory()),
    ).toEqual([]);
    expect(existsSync(`/run/mplab/${name}`)).toBe(false);
  });
});
