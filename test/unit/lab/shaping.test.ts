import { describe, expect, it } from 'vitest';
import { nodeLines, nodeSysctls } from '../../../lab/backends/netns';
import {
  applyChange,
  netemParams,
  planLink,
  queueLimitBytes,
  tbfBurst,
  tcLines,
} from '../../../lab/links/shaping';
import type { LinkModel } from '../../../lab/topology/model';
import { chain, twoHost } from '../../integration/lab/models';

function link(ab: LinkModel['ab'], ba: LinkModel['ba'] = {}, emulator = false): LinkModel {
  return {
    id: 'l',
    index: 0,
    a: { node: 'a', iface: 'eth1' },
    b: { node: 'b', iface: 'eth1' },
    up: true,
    mtu: 1500,
    ab,
    ba,
    emulator,
    needsNetem: netemParams(ab).length + netemParams(ba).length > 0,
    segment: 0,
  };
}

describe('link planning', () => {
  it('plain links need nothing, rate-only links use tc', () => {
    expect(planLink(link({}), false).via).toBe('none');
    expect(planLink(link({ rateMbps: 10 }), false).via).toBe('tc');
  });

  it('delay/jitter/loss go to the emulator without netem, naming sch_netem', () => {
    const p = planLink(link({ rateMbps: 10, delayMs: 20 }, { lossPct: 1 }), false);
    expect(p.via).toBe('emulator');
    expect(p.reason).toContain('sch_netem');
    expect(p.reason).toContain('delay');
    expect(p.reason).toContain('loss');
    expect(planLink(link({ delayMs: 20 }), true).via).toBe('tc');
  });

  it('traces and emulator: true always go to the emulator', () => {
    expect(planLink(link({ trace: '/x.trace' }), true).via).toBe('emulator');
    expect(planLink(link({}, {}, true), true).via).toBe('emulator');
  });
});

describe('tc lines', () => {
  it('rate becomes a tbf with burst and a byte limit', () => {
    const [line, ...rest] = tcLines('eth1', { rateMbps: 20 }, 1500, false);
    expect(rest).toEqual([]);
    expect(line).toBe(
      `qdisc replace dev eth1 root handle 1: tbf rate 20000kbit burst ${tbfBurst(20, 1500)} limit 250000`,
    );
  });

  it('queue sizing follows bytes, packets and ms', () => {
    expect(queueLimitBytes({ rateMbps: 8, queue: { bytes: 64000 } }, 1500)).toBe(64000);
    expect(queueLimitBytes({ rateMbps: 8, queue: { packets: 10 } }, 1500)).toBe(15140);
    expect(queueLimitBytes({ rateMbps: 8, queue: { ms: 50 } }, 1500)).toBe(50000);
    // default: 100 ms at the rate, never under 16 frames
    expect(queueLimitBytes({ rateMbps: 0.5 }, 1500)).toBe(16 * 1514);
  });

  it('burst covers several frames and 2 ms at high rates', () => {
    expect(tbfBurst(1, 1500)).toBe(4 * 1514);
    expect(tbfBurst(1000, 1500)).toBe(250000);
  });

  it('netem parameters become a netem child of the tbf where netem exists', () => {
    const lines = tcLines('wifi', { rateMbps: 20, delayMs: 10, jitterMs: 2, lossPct: 1 }, 1500, true);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(
      /^qdisc replace dev wifi parent 1:1 handle 10: netem delay 10ms 2ms loss 1% limit \d+$/,
    );
    const ge = tcLines('x', { burstLoss: { p: 1, r: 20, lossBad: 90, lossGood: 0 } }, 1500, true);
    expect(ge[0]).toContain('loss gemodel 1% 20% 90% 0%');
  });

  it('never drops a netem parameter silently', () => {
    expect(() => tcLines('eth1', { rateMbps: 5, lossPct: 1 }, 1500, false)).toThrow(/sch_netem/);
  });

  it('an unshaped direction deletes the root qdisc', () => {
    expect(tcLines('eth1', {}, 1500, false)).toEqual(['qdisc del dev eth1 root']);
  });

  it('runtime changes keep the qdisc tree where its shape stays, rebuild it where it changes', async () => {
    const { runtimeTcLines } = await import('../../../lab/links/shaping');
    expect(runtimeTcLines('e', { rateMbps: 10 }, { rateMbps: 5 }, 1500, false)).toHaveLength(1);
    const drop = runtimeTcLines('e', { rateMbps: 10, delayMs: 5 }, { rateMbps: 10 }, 1500, true);
    expect(drop[0]).toBe('qdisc del dev e root');
    expect(drop[1]).toMatch(/^qdisc replace dev e root handle 1: tbf/);
    expect(runtimeTcLines('e', { rateMbps: 10 }, {}, 1500, false)).toEqual(['qdisc del dev e root']);
  });

  it('runtime changes merge and clear', () => {
    expect(applyChange({ rateMbps: 10, delayMs: 5 }, { rateMbps: 20, delayMs: null })).toEqual({
      rateMbps: 20,
    });
  });
});

describe('netns node configuration', () => {
  it('configures interfaces, policy routing and skips routes over down interfaces', () => {
    const m = twoHost('t', { paths: 2 });
    const a = m.nodes[0];
    if (!a) throw new Error('no node');
    const lines = nodeLines(a, new Set(['eth2']));
    expect(lines[0]).toBe('link set dev lo up');
    expect(lines).toContain('addr add 10.0.1.1/24 dev eth1');
    expect(lines).toContain('link set dev eth1 up');
    expect(lines).not.toContain('link set dev eth2 up');
    expect(lines).toContain('addr add 10.0.2.1/24 dev eth2');
    expect(lines).toContain('route replace 10.0.1.0/24 dev eth1 table 101 src 10.0.1.1');
    expect(lines.some((l) => l.includes('dev eth2 table'))).toBe(false);
    expect(lines).toContain('rule add from 10.0.1.1/32 lookup 101 priority 1001');
  });

  it('routers get forwarding sysctls', () => {
    const m = chain('t', 3);
    expect(nodeSysctls(m.nodes[1] as never)).toEqual([
      'net.ipv4.ip_forward=1',
      'net.ipv6.conf.all.forwarding=1',
    ]);
    expect(nodeSysctls(m.nodes[0] as never)).toEqual([]);
  });

  it('IPv6 addresses skip duplicate address detection; ECMP routes list next hops', () => {
    const m = twoHost('t', { paths: 1 });
    const a = m.nodes[0];
    if (!a) throw new Error('no node');
    a.interfaces[0]?.addresses.push({
      family: 6,
      address: 'fd00::1',
      prefix: 64,
      subnet: 'fd00::/64',
      planned: true,
    });
    a.routes.push({
      family: 4,
      dst: 'default',
      nexthops: [
        { via: '10.0.1.2', dev: 'eth1' },
        { via: '10.0.1.3', dev: 'eth1' },
      ],
    });
    const lines = nodeLines(a, new Set());
    expect(lines).toContain('addr add fd00::1/64 dev eth1 nodad');
    expect(lines.some((l) => l.startsWith('-'))).toBe(false);
    expect(lines).toContain(
      'route replace default nexthop via 10.0.1.2 dev eth1 nexthop via 10.0.1.3 dev eth1',
    );
  });
});

describe('netns route lines', () => {
  it('writes unreachable routes without a device', () => {
    const m = twoHost('t', { paths: 1 });
    const a = m.nodes[0];
    if (!a) throw new Error('no node');
    a.routes.push({ family: 4, dst: 'default', table: 101, type: 'unreachable' } as never);
    expect(nodeLines(a, new Set())).toContain('route replace unreachable default table 101');
  });
});

describe('kernel stack nodes', () => {
  it('maps knobs to kernel sysctls and makes every address an MPTCP endpoint', async () => {
    const { kernelConfig } = await import('../../../lab/lab');
    const m = twoHost('t', {
      stack: 'kernel',
      knobs: { 'net.mptcp.mptcp_checksum': 1, 'net.mptcp.mptcp_ndiffports': 3 },
    });
    const a = m.nodes[0];
    if (!a) throw new Error('no node');
    const k = kernelConfig(a);
    expect(k.sysctls).toEqual(['net.mptcp.checksum_enabled=1']);
    expect(k.ipLines).toEqual([
      'mptcp endpoint flush',
      'mptcp limits set subflows 3 add_addr_accepted 3',
      'mptcp endpoint add 10.0.1.1 dev eth1 signal subflow',
      'mptcp endpoint add 10.0.2.1 dev eth2 signal subflow',
    ]);
  });
});
