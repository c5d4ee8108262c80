/**
 * As root: two namespaces joined by two veth pairs, a bundled agent in each (addresses learned from
 * the interfaces and followed). Shaped with tbf at 50 Mbit/s per direction and path: goodput over
 * both subflows; one interface set down mid-transfer; iperf3 through the TCP proxy.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrafficDone, TrafficProgress } from '../../../stack/agent/protocol';
import { caps } from '../../helpers/caps';
import { createNetns, ipBatch, netnsScope, nsExec, tag } from '../../helpers/netns';
import { bundleAgent, type RunningAgent, startAgent, stopAgent } from './agent-helpers';

netnsScope();

const t = tag();
let nsA = '';
let nsB = '';
let dir = '';
let a: RunningAgent | undefined;
let b: RunningAgent | undefined;
const A1 = '10.201.1.1';
const B1 = '10.201.1.2';
const A2 = '10.201.2.1';
const B2 = '10.201.2.2';
const ifA1 = `a1${t}`;
const ifA2 = `a2${t}`;
const ifB1 = `b1${t}`;
const ifB2 = `b2${t}`;

function tc(ns: string, args: string[]): void {
  nsExec(ns, 'tc', args);
}

function shape(rate: string): void {
  for (const [ns, dev] of [
    [nsA, ifA1],
    [nsA, ifA2],
    [nsB, ifB1],
    [nsB, ifB2],
  ] as const) {
    tc(ns, ['qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', rate, 'burst', '64kb', 'latency', '30ms']);
  }
}

describe.skipIf(!caps.netns)('two namespaces, two veth pairs (root)', () => {
  beforeAll(async () => {
    nsA = createNetns('ra', t);
    nsB = createNetns('rb', t);
    ipBatch(null, [
      `link add ${ifA1} netns ${nsA} type veth peer name ${ifB1} netns ${nsB}`,
      `link add ${ifA2} netns ${nsA} type veth peer name ${ifB2} netns ${nsB}`,
    ]);
    ipBatch(nsA, [
      `addr add ${A1}/24 dev ${ifA1}`,
      `addr add ${A2}/24 dev ${ifA2}`,
      `link set ${ifA1} up`,
      `link set ${ifA2} up`,
    ]);
    ipBatch(nsB, [
      `addr add ${B1}/24 dev ${ifB1}`,
      `addr add ${B2}/24 dev ${ifB2}`,
      `link set ${ifB1} up`,
      `link set ${ifB2} up`,
    ]);
    // Strict reverse-path filtering, as between two separate access networks: a packet from A's
    // second address cannot come in over the first link, so the paths are the two links (two
    // subflows), not four cross pairs sharing them.
    for (const ns of [nsA, nsB]) {
      nsExec(ns, 'sysctl', ['-qw', 'net.ipv4.conf.all.rp_filter=1', 'net.ipv4.conf.default.rp_filter=1']);
      for (const dev of ns === nsA ? [ifA1, ifA2] : [ifB1, ifB2])
        nsExec(ns, 'sysctl', ['-qw', `net.ipv4.conf.${dev}.rp_filter=1`]);
    }
    dir = mkdtempSync(join(tmpdir(), 'mplab-ns-'));
    const js = await bundleAgent();
    // Addresses are learned from the interfaces (and followed), as in a lab.
    a = await startAgent(js, dir, 'a', [], nsA);
    b = await startAgent(js, dir, 'b', [], nsB);
    const va = await a.client.call('version');
    expect(va.addresses.sort()).toEqual([A1, A2]);
  });

  afterAll(async () => {
    await stopAgent(a);
    await stopAgent(b);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('tbf 50 Mbit/s on each path and direction: steady goodput printed (sanity bound only), both subflows carry data', async () => {
    shape('50mbit');
    const sinkProgress: TrafficProgress[] = [];
    const off = b!.client.onNotification('traffic.progress', (p) => sinkProgress.push(p));
    const sink = await b!.client.call('traffic.sink', { port: 5001, once: true, intervalMs: 500 });
    const sent = await a!.client.call(
      'traffic.send',
      { host: B1, port: 5001, durationMs: 10_000, intervalMs: 0, wait: true },
      { timeoutMs: 60_000 },
    );
    off();
    expect(sent.status!.state).toBe('done');
    const st = (await b!.client.call('traffic.status', { id: sink.id })).jobs[0]!;
    const r = st.result!;
    expect(r.sha256).toBe(sent.status!.result!.sha256);
    const total = (r.bytes * 8) / r.seconds / 1e6;
    // Goodput once both subflows are past slow start (which a loaded 2-core machine can stretch
    // past 2 s), while the sender is still sending: from t = 3 s to the interval before the last
    // (the last one holds the sender's wind-down).
    const from = sinkProgress.find((p) => p.t >= 3)!;
    const to = sinkProgress.at(-2)!;
    const steady = ((to.bytes - from.bytes) * 8) / (to.t - from.t) / 1e6;
    console.log(
      `tbf 2x50 Mbit/s: steady ${steady.toFixed(1)} Mbit/s (t ${from.t.toFixed(1)}–${to.t.toFixed(1)} s), ` +
        `whole transfer ${total.toFixed(1)} Mbit/s (${r.bytes} bytes in ${r.seconds.toFixed(2)} s)`,
    );
    for (const p of sinkProgress)
      console.log(
        `t=${p.t.toFixed(1)} ${((p.intervalBytes * 8) / p.intervalSeconds / 1e6).toFixed(1)} Mbit/s`,
        p.subflows.map((s) => `${s.local}<${s.remote} ${s.bytes}`).join(' | '),
      );
    // a sanity bound far below the 100 Mbit/s of the two links: the steady rate itself is a figure
    // (bench/aggregation.ts), and a loaded 2-core machine has measured 88 here
    expect(steady).toBeGreaterThan(10);
    // Both links carried a real share (each path index seen from B's side: B1 and B2).
    const carrying = sinkProgress.at(-1)!.subflows.filter((s) => s.bytes > r.bytes * 0.2);
    expect(carrying.length).toBeGreaterThanOrEqual(2);
    expect(new Set(carrying.map((s) => s.local.split(':')[0])).size).toBe(2);
  });

  it('one interface set down mid-transfer: the transfer completes with integrity', async () => {
    shape('50mbit');
    const total = 40_000_000;
    const dones: TrafficDone[] = [];
    const off = b!.client.onNotification('traffic.done', (d) => dones.push(d));
    const sink = await b!.client.call('traffic.sink', { port: 5002, once: true });
    const send = await a!.client.call('traffic.send', {
      host: B1,
      port: 5002,
      bytes: total,
      intervalMs: 250,
    });
    await new Promise((r) => setTimeout(r, 1200));
    // The second path fails under the transfer.
    ipBatch(nsA, [`link set ${ifA2} down`]);
    let status = (await a!.client.call('traffic.status', { id: send.id })).jobs[0]!;
    for (let i = 0; i < 200 && !['done', 'failed', 'stopped'].includes(status.state); i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await a!.client.call('traffic.status', { id: send.id })).jobs[0]!;
    }
    // Addresses are followed: the address went away, and comes back once the link is up again.
    const seen = await a!.client.call('report');
    expect(seen.addresses).toEqual([A1]);
    ipBatch(nsA, [`link set ${ifA2} up`]);
    let back: string[] = [];
    for (let i = 0; i < 50 && !back.includes(A2); i++) {
      await new Promise((r) => setTimeout(r, 100));
      back = (await a!.client.call('report')).addresses;
    }
    expect(back.sort()).toEqual([A1, A2]);
    for (let i = 0; i < 50 && dones.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    off();
    expect(status.state).toBe('done');
    const sinkSt = (await b!.client.call('traffic.status', { id: sink.id })).jobs[0]!;
    expect(sinkSt.result!.bytes).toBe(total);
    expect(sinkSt.result!.sha256).toBe(status.result!.sha256);
  });

  it('an address that comes back mid-transfer gets a new subflow, established on both ends, that carries data', async () => {
    shape('50mbit');
    const total = 80_000_000;
    const progress: TrafficProgress[] = [];
    const off = a!.client.onNotification('traffic.progress', (p) => progress.push(p));
    const sink = await b!.client.call('traffic.sink', { port: 5003, once: true });
    const send = await a!.client.call('traffic.send', {
      host: B1,
      port: 5003,
      bytes: total,
      intervalMs: 200,
    });
    await new Promise((r) => setTimeout(r, 1000));
    const before = progress
      .at(-1)!
      .subflows.filter((s) => s.local.startsWith(`${A2}:`))
      .map((s) => s.local);
    ipBatch(nsA, [`link set ${ifA2} down`]);
    await new Promise((r) => setTimeout(r, 1500));
    ipBatch(nsA, [`link set ${ifA2} up`]);
    await new Promise((r) => setTimeout(r, 2500));
    const midA = (await a!.client.call('report')).stack;
    const midB = (await b!.client.call('report')).stack;
    let status = (await a!.client.call('traffic.status', { id: send.id })).jobs[0]!;
    for (let i = 0; i < 300 && !['done', 'failed', 'stopped'].includes(status.state); i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await a!.client.call('traffic.status', { id: send.id })).jobs[0]!;
    }
    off();
    expect(status.state).toBe('done');
    let sinkSt = (await b!.client.call('traffic.status', { id: sink.id })).jobs[0]!;
    for (let i = 0; i < 50 && !sinkSt.result; i++) {
      await new Promise((r) => setTimeout(r, 100));
      sinkSt = (await b!.client.call('traffic.status', { id: sink.id })).jobs[0]!;
    }
    expect(sinkSt.result!.sha256).toBe(status.result!.sha256);
    const last = progress.at(-1)!;
    const fresh = last.subflows.filter((s) => s.local.startsWith(`${A2}:`) && !before.includes(s.local));
    expect(before.length).toBeGreaterThan(0);
    // The runtime's part: the address came back, the core was told, and a new subflow from it was
    // opened and established on both ends (seen 2.5 s after the link came up).
    type Rep = {
      connections: {
        state: string;
        subflows: {
          local: { address: string; port: number };
          remote: { address: string; port: number };
          state: string;
        }[];
      }[];
    };
    const live = (r: unknown) => (r as Rep).connections.find((c) => c.state === 'ESTABLISHED');
    const newOnA = live(midA)!.subflows.filter(
      (s) => s.local.address === A2 && !before.includes(`${A2}:${s.local.port}`) && s.state === 'ESTABLISHED',
    );
    expect(newOnA.length).toBeGreaterThan(0);
    const onB = live(midB)!.subflows.filter(
      (s) => s.remote.address === A2 && newOnA.some((n) => n.local.port === s.remote.port),
    );
    expect(onB.map((s) => s.state)).toContain('ESTABLISHED');
    // And it carries data. It used not to, about 2 runs in 3: a core defect where an RTO of the
    // join's SYN (or SYN/ACK), likely on a link just set up, left the joining subflow flagged
    // stalled for good (fixed in stack/mptcp/conn.ts; test/unit/mptcp/rejoin.test.ts loses that
    // SYN on purpose in the simulator).
    if (!fresh.some((s) => s.bytes > 100_000)) {
      console.warn('re-joined subflow carried no data; subflows', JSON.stringify(last.subflows));
      console.warn('A at +2.5 s', JSON.stringify(midA));
      console.warn('B at +2.5 s', JSON.stringify(midB));
    }
    expect(Math.max(0, ...fresh.map((s) => s.bytes)), 'bytes on the re-joined subflow').toBeGreaterThan(
      100_000,
    );
  });

  it.skipIf(!caps.iperf3)('iperf3 runs through the TCP proxy, and the bytes arrive', async () => {
    shape('50mbit');
    const server = spawn(
      'ip',
      ['netns', 'exec', nsB, 'iperf3', '-s', '-1', '-B', '127.0.0.1', '-p', '5201'],
      {
        stdio: 'ignore',
      },
    );
    try {
      await new Promise((r) => setTimeout(r, 500));
      await a!.client.call('proxy.start', {
        listenPort: 15201,
        peer: B1,
        targetHost: '127.0.0.1',
        targetPort: 5201,
      });
      const out = nsExec(nsA, 'iperf3', ['-c', '127.0.0.1', '-p', '15201', '-t', '5', '--json'], 60_000);
      const j = JSON.parse(out) as {
        end: { sum_sent: { bytes: number }; sum_received: { bytes: number; bits_per_second: number } };
      };
      console.log(
        `iperf3 through the proxy: ${(j.end.sum_received.bits_per_second / 1e6).toFixed(1)} Mbit/s`,
      );
      expect(j.end.sum_received.bytes).toBeGreaterThan(5_000_000);
      // What iperf3 still had in flight when it stopped counting (kernel socket buffers on both
      // proxy legs and the stack's send buffer, a few MB) is not in sum_received.
      expect(j.end.sum_received.bytes).toBeGreaterThan(j.end.sum_sent.bytes * 0.8);
      await a!.client.call('proxy.stop', { listenPort: 15201 });
    } finally {
      server.kill();
    }
  });
});

describe.skipIf(!caps.netns)('IPv6 over the UDP phy (root)', () => {
  it('two agents on IPv6 addresses move data with integrity', async () => {
    const ns = createNetns('r6', tag());
    ipBatch(ns, ['addr add fd00:6d::1/128 dev lo nodad', 'addr add fd00:6d::2/128 dev lo nodad']);
    const d = mkdtempSync(join(tmpdir(), 'mplab-ns6-'));
    const js = await bundleAgent();
    let x: RunningAgent | undefined;
    let y: RunningAgent | undefined;
    try {
      x = await startAgent(js, d, 'x', ['--addresses', 'fd00:6d::1'], ns);
      y = await startAgent(js, d, 'y', ['--addresses', 'fd00:6d::2'], ns);
      expect((await x.client.call('version')).addresses).toEqual(['fd00:6d::1']);
      const sink = await y.client.call('traffic.sink', { port: 6006, once: true });
      const sent = await x.client.call(
        'traffic.send',
        { host: 'fd00:6d::2', port: 6006, bytes: 5_000_000, wait: true },
        { timeoutMs: 30_000 },
      );
      expect(sent.status!.state).toBe('done');
      let st = (await y.client.call('traffic.status', { id: sink.id })).jobs[0]!;
      for (let i = 0; i < 50 && !st.result; i++) {
        await new Promise((r) => setTimeout(r, 100));
        st = (await y.client.call('traffic.status', { id: sink.id })).jobs[0]!;
      }
      expect(st.result!.bytes).toBe(5_000_000);
      expect(st.result!.sha256).toBe(sent.status!.result!.sha256);
    } finally {
      await stopAgent(x);
      await stopAgent(y);
      rmSync(d, { recursive: true, force: true });
    }
  });
});
