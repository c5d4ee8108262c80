/**
 * The two-host lab with our stack: `up` starts an agent per node (dist/agent.js, rebuilt from source
 * when stale), every agent answers, knobs set through `sysctl` read back, the report lists the
 * node's connections while traffic runs, and `down` leaves no process, socket or file. Also kill -9
 * of the CLI after the agents were spawned, then down.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../../lab/lab';
import { readState } from '../../../lab/state';
import { caps } from '../../helpers/caps';
import { opaquePayload } from '../../helpers/tshark';
import { agentEntry, type Bundle, bundle, ensureDistAgent, root } from './bundle';
import { gone, labName, labScope, leftovers, NOTHING } from './helpers';

const hasAgent = existsSync(agentEntry);
const twoHost = join(root, 'topologies/two-host.yaml');

describe.skipIf(!caps.netns || !hasAgent)('lab with agents (two-host, our stack)', () => {
  labScope();
  let b: Bundle | undefined;
  beforeAll(async () => {
    await ensureDistAgent();
    b = await bundle();
  }, 120_000);
  afterAll(() => b?.remove());

  it('every agent answers; sysctl reads back; report lists connections; down leaves nothing', async () => {
    const name = labName('g');
    const lab = await Lab.up(twoHost, { name });
    const st = await lab.status();
    expect(st.nodes.map((n) => [n.name, n.agent?.alive, n.agent?.answers])).toEqual([
      ['a', true, true],
      ['b', true, true],
    ]);
    const pids = st.nodes.map((n) => n.agent?.pid as number);

    const set = await lab.sysctl('all', ['net.mptcp.mptcp_ndiffports=2']);
    expect(set.map((r) => [r.node, r.name, r.value])).toEqual([
      ['a', 'net.mptcp.mptcp_ndiffports', 2],
      ['b', 'net.mptcp.mptcp_ndiffports', 2],
    ]);
    const got = await lab.sysctl('b', ['net.mptcp.mptcp_ndiffports']);
    expect(got).toEqual([{ node: 'b', name: 'net.mptcp.mptcp_ndiffports', value: 2 }]);
    await expect(lab.sysctl('a', ['net.mptcp.mptcp_ndiffportz=2'])).rejects.toMatchObject({ exitCode: 2 });

    // a transfer from a to b, seen in a's report while it runs
    const sink = await lab.agent('b');
    const src = await lab.agent('a');
    try {
      await sink.call('traffic.sink', { port: 5001 });
      await src.call('traffic.send', { host: '10.0.1.2', port: 5001, durationMs: 3000 });
      let conns = 0;
      for (let i = 0; i < 100 && conns === 0; i++) {
        const [r] = await lab.report('a');
        conns = r?.report.connections.length ?? 0;
        if (conns === 0) await new Promise((res) => setTimeout(res, 20));
      }
      expect(conns).toBeGreaterThan(0);
      const [r] = await lab.report('a');
      expect(r?.report.connections[0]?.subflows.length).toBeGreaterThan(0);
      expect(r?.report.phy.datagramsOut).toBeGreaterThan(0);
    } finally {
      await sink.close();
      await src.close();
    }

    // an agent that dies shows as dead; down still removes everything
    process.kill(pids[1] as number, 'SIGKILL');
    for (let i = 0; i < 100 && !gone(pids[1] as number); i++) await new Promise((r) => setTimeout(r, 10));
    const dead = (await lab.status()).nodes.find((n) => n.name === 'b');
    expect(dead?.agent).toMatchObject({ alive: false, answers: false });

    await lab.down();
    expect(leftovers(name)).toEqual(NOTHING);
    for (const pid of pids) expect(gone(pid)).toBe(true);
  });

  it('our stack carries one transfer over both paths, intact', async () => {
    const name = labName('m');
    const lab = await Lab.up(twoHost, { name });
    const sink = await lab.agent('b');
    const src = await lab.agent('a');
    try {
      const before = await lab.status();
      const pcap = join(tmpdir(), `mplab-${name}-stack.pcap`);
      const cap = await lab.capture('a', pcap, { stack: true });
      const { id } = await sink.call('traffic.sink', { port: 5002, once: true });
      const sent = await src.call(
        'traffic.send',
        { host: '10.0.1.2', port: 5002, bytes: 5_000_000, wait: true },
        { timeoutMs: 60_000 },
      );
      expect(sent.status?.result?.error).toBeUndefined();
      expect(sent.status?.result?.bytes).toBe(5_000_000);
      let got: { bytes: number; sha256: string } | undefined;
      for (let i = 0; i < 200 && !got; i++) {
        const { jobs } = await sink.call('traffic.status', { id });
        got = jobs[0]?.result;
        if (!got) await new Promise((r) => setTimeout(r, 10));
      }
      expect(got?.bytes).toBe(5_000_000);
      expect(got?.sha256).toBe(sent.status?.result?.sha256);
      const after = await lab.status();
      for (const [i, l] of after.links.entries()) {
        const tx = (l.counters.a?.txBytes ?? 0) - (before.links[i]?.counters.a?.txBytes ?? 0);
        expect(tx, `${l.id} carried part of the transfer`).toBeGreaterThan(100_000);
      }
      // the stack's own capture: real IP/TCP packets with MPTCP options that Wireshark dissects
      const c = await cap.stop();
      expect(c.packets).toBeGreaterThan(1000);
      if (caps.tshark) {
        const r = spawnSync(
          'tshark',
          [
            '-r',
            pcap,
            ...opaquePayload([5002]),
            '-T',
            'fields',
            '-e',
            'tcp.options.mptcp.subtype',
            '-e',
            '_ws.malformed',
          ],
          {
            encoding: 'utf8',
            maxBuffer: 64 << 20,
          },
        );
        const rows = r.stdout.split('\n').filter(Boolean);
        expect(rows.length).toBe(c.packets);
        expect(rows.filter((l) => l.split('\t')[0] !== '').length).toBeGreaterThan(1000);
        expect(rows.filter((l) => (l.split('\t')[1] ?? '') !== '')).toEqual([]);
      }
      rmSync(pcap, { force: true });
    } finally {
      await sink.close();
      await src.close();
      await lab.down();
    }
    expect(leftovers(name)).toEqual(NOTHING);
  });

  it('the newcomer flow through the CLI: up, sysctl all, report, status, down', async () => {
    const name = labName('c');
    const run = (args: string[]) =>
      spawnSync(process.execPath, [b?.cli as string, ...args], { encoding: 'utf8', timeout: 60_000 });
    const up = run(['up', twoHost, '--name', name]);
    expect(up.stderr).toBe('');
    expect(up.status).toBe(0);
    expect(up.stdout).toMatch(new RegExp(`lab ${name} is up in`));
    const set = run(['sysctl', 'all', 'net.mptcp.mptcp_ndiffports=2', '--lab', name]);
    expect(set.status).toBe(0);
    expect(set.stdout).toMatch(/a\s+net\.mptcp\.mptcp_ndiffports\s+2/);
    expect(set.stdout).toMatch(/b\s+net\.mptcp\.mptcp_ndiffports\s+2/);
    const rep = run(['report', '--lab', name]);
    expect(rep.status).toBe(0);
    expect(rep.stdout).toMatch(/node a: /);
    expect(rep.stdout).toMatch(/node b: /);
    expect(rep.stdout).toMatch(/Mapping table|mapping table/);
    const repJson = JSON.parse(run(['report', 'a', '--lab', name, '--json']).stdout) as { node: string }[];
    expect(repJson.map((r) => r.node)).toEqual(['a']);
    const st = run(['status', name]);
    expect(st.stdout).toMatch(/answers pid \d+/);
    const down = run(['down', name]);
    expect(down.status).toBe(0);
    expect(leftovers(name)).toEqual(NOTHING);
  });

  it('kill -9 of the CLI after the agents were spawned, then down: nothing left', async () => {
    const name = labName('j');
    const cli = b?.cli as string;
    const p = spawn(process.execPath, [cli, 'up', twoHost, '--name', name], { stdio: 'ignore' });
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const s = readState(name);
      if (s?.processes.some((x) => x.kind === 'agent' && x.pid !== undefined)) {
        p.kill('SIGKILL');
        break;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await new Promise<void>((r) =>
      p.exitCode !== null || p.signalCode !== null ? r() : p.on('close', () => r()),
    );
    expect(readState(name)?.phase).toBe('creating');
    const d = await Lab.down(name);
    expect(d.existed).toBe(true);
    expect(leftovers(name)).toEqual(NOTHING);
  });
});
