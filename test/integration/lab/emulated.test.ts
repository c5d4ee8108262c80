/**
 * Links that ask for delay go through netem where the kernel has it, else through the userspace
 * emulator (lab/emulator): started by up, changed by `link`, stopped by down, nothing left.
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../../lab/lab';
import { readState } from '../../../lab/state';
import { caps } from '../../helpers/caps';
import { netemAvailable } from '../../../lab/links/shaping';
import { agentEntry, ensureDistAgent, root } from './bundle';
import { gone, labName, labScope, leftovers, NOTHING } from './helpers';

/** Median TCP connect time (SYN -> RST from a closed port), in ms, after one warm-up (ARP). */
async function connectRtt(lab: Lab, node: string, dst: string, n = 5): Promise<number> {
  const py = [
    'import socket,time,statistics',
    'def once():',
    '  s=socket.socket(); s.settimeout(1); t=time.perf_counter()',
    `  try: s.connect(("${dst}",9))`,
    '  except ConnectionRefusedError: pass',
    '  except OSError: return -1',
    '  finally: s.close()',
    '  return (time.perf_counter()-t)*1000',
    'once()',
    `print(statistics.median([once() for _ in range(${n})]))`,
  ].join('\n');
  const r = await lab.exec(node, ['python3', '-c', py]);
  if (r.code !== 0) throw new Error(r.stderr);
  return Number(r.stdout.trim());
}

describe.skipIf(!caps.netns || !caps.tun)('links with delay (netem or the userspace emulator)', () => {
  labScope();

  it('carries the delay, changes it at run time, goes down and up, and leaves nothing', async () => {
    const name = labName('e');
    const lab = await Lab.up(join(root, 'test/integration/lab/fixtures/plain-delay.yaml'), { name });
    const via = lab.state.links.find((l) => l.id === 'a:eth1--b:eth1')?.via;
    expect(via === 'emulator' || via === 'tc').toBe(true);

    const rtt = await connectRtt(lab, 'a', '10.0.1.2');
    expect(rtt).toBeGreaterThan(39);
    expect(rtt).toBeLessThan(140); // sanity: lateness under load is the bench's figure
    expect(await connectRtt(lab, 'a', '10.0.2.2')).toBeLessThan(5);

    const st = await lab.link('a:eth1', { delayMs: 50 });
    expect(st.ab).toMatchObject({ delayMs: 50, rateMbps: 20 });
    const rtt2 = await connectRtt(lab, 'a', '10.0.1.2');
    expect(rtt2).toBeGreaterThan(99);
    expect(rtt2).toBeLessThan(200);

    await lab.link('b:eth1', { up: false });
    expect(await connectRtt(lab, 'a', '10.0.1.2', 1)).toBe(-1);
    await lab.link('b:eth1', { up: true });
    expect(await connectRtt(lab, 'a', '10.0.1.2')).toBeGreaterThan(99);

    const emu = readState(name)?.processes.find((p) => p.kind === 'emulator');
    await lab.down();
    expect(leftovers(name)).toEqual(NOTHING);
    if (emu?.pid) expect(gone(emu.pid)).toBe(true);
  });
});

describe.skipIf(!caps.netns || !caps.tun)('a hung emulator', () => {
  labScope();

  it('is killed by down all the same', async () => {
    const name = labName('h');
    const lab = await Lab.up(join(root, 'test/integration/lab/fixtures/plain-delay.yaml'), { name });
    const emu = readState(name)?.processes.find((p) => p.kind === 'emulator');
    if (lab.state.links.some((l) => l.via === 'emulator')) {
      expect(emu?.pid).toBeGreaterThan(0);
      process.kill(emu?.pid as number, 'SIGSTOP');
    }
    await lab.down();
    expect(leftovers(name)).toEqual(NOTHING);
    if (emu?.pid) expect(gone(emu.pid)).toBe(true);
  });
});

describe.skipIf(!caps.netns || !caps.tun)('links that start down', () => {
  labScope();

  it('start down (plain and emulated) and come up at run time with their routes', async () => {
    const name = labName('d');
    const lab = await Lab.up(join(root, 'test/integration/lab/fixtures/plain-down.yaml'), { name });
    const st = await lab.status();
    expect(st.links.map((l) => l.up)).toEqual([false, false]);
    expect(await connectRtt(lab, 'a', '10.0.1.2', 1)).toBe(-1);
    expect(await connectRtt(lab, 'a', '10.0.2.2', 1)).toBe(-1);
    await lab.link('a:eth1', { up: true });
    await lab.link('a:eth2', { up: true });
    expect(await connectRtt(lab, 'a', '10.0.1.2')).toBeLessThan(5);
    const rtt = await connectRtt(lab, 'a', '10.0.2.2');
    expect(rtt).toBeGreaterThan(9);
    expect(rtt).toBeLessThan(25);
    const table = (await lab.exec('a', 'ip route show table all')).stdout;
    expect(table).toMatch(/10\.0\.1\.0\/24 dev eth1 table \d+/);
    expect(table).toMatch(/10\.0\.2\.0\/24 dev eth2 table \d+/);
    await lab.down();
    expect(leftovers(name)).toEqual(NOTHING);
  });
});

describe.skipIf(!caps.netns || !caps.tun || !existsSync(agentEntry))(
  'the IETF live-CD lab (agents, routers, emulated access links)',
  () => {
    labScope();
    beforeAll(async () => {
      await ensureDistAgent();
    }, 120_000);

    it('comes up with every agent answering and carries a transfer end to end over both access links', async () => {
      const name = labName('l');
      const lab = await Lab.up(join(root, 'topologies/ietf-livecd.yaml'), { name });
      const st = await lab.status();
      expect(st.nodes.filter((n) => n.stack === 'ts').every((n) => n.agent?.answers)).toBe(true);
      expect(st.nodes.filter((n) => n.kind === 'router').every((n) => n.agent === undefined)).toBe(true);
      const access = st.links.filter((l) => l.id === 'wifi' || l.id === '3g');
      expect(access).toHaveLength(2);
      if (!(await netemAvailable())) expect(access.every((l) => l.via === 'emulator')).toBe(true);

      const server = lab.model.nodes.find((n) => n.name === 'server');
      const sink = await lab.agent('server');
      const src = await lab.agent('client');
      try {
        const { id } = await sink.call('traffic.sink', { port: 5003, once: true });
        const sent = await src.call(
          'traffic.send',
          { host: server?.addresses[0] ?? '', port: 5003, bytes: 6_000_000, wait: true },
          { timeoutMs: 60_000 },
        );
        expect(sent.status?.result?.bytes).toBe(6_000_000);
        let got: { bytes: number; sha256: string } | undefined;
        for (let i = 0; i < 300 && !got; i++) {
          got = (await sink.call('traffic.status', { id })).jobs[0]?.result;
          if (!got) await new Promise((r) => setTimeout(r, 10));
        }
        expect(got?.sha256).toBe(sent.status?.result?.sha256);
        const after = await lab.status();
        for (const l of after.links.filter((x) => x.id === 'wifi' || x.id === '3g'))
          expect(l.counters.a?.txBytes, `${l.id} carried part of it`).toBeGreaterThan(50_000);
      } finally {
        await sink.close();
        await src.close();
      }
      const emu = readState(name)?.processes.find((p) => p.kind === 'emulator');
      await lab.down();
      expect(leftovers(name)).toEqual(NOTHING);
      if (emu?.pid) expect(gone(emu.pid)).toBe(true);
    });
  },
);
