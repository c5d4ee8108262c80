import { describe, expect, it } from 'vitest';
import { formatReport, mappingRows } from '../../../lab/report';
import type { AgentReport } from '../../../stack/agent/protocol';
import type { CoreReport } from '../../../stack/report';

const base: AgentReport = {
  uptime: 1.5,
  core: 'mptcp',
  addresses: ['10.0.1.1', '10.0.2.1'],
  udpPort: 8684,
  phy: { datagramsIn: 10, datagramsOut: 12, bytesIn: 1000, bytesOut: 1200, garbageDropped: 0, sendErrors: 0 },
  connections: [
    {
      conn: 1,
      mode: 'mptcp',
      state: 'established',
      bytesDelivered: 100,
      bytesReceived: 0,
      subflows: [1, 2].map((k) => ({
        pathIndex: k,
        local: { address: `10.0.${k}.1`, port: 40000 + k },
        remote: { address: `10.0.${k}.2`, port: 5001 },
        state: 'established',
        mss: 1400,
        cwnd: 10,
        ssthresh: 100,
        srttMs: 1,
        rttvarMs: 0.5,
        bytesInFlight: 0,
        bytesSent: 50,
        bytesAcked: 50,
        bytesReceived: 0,
        retransmits: 0,
      })),
    },
  ],
  memory: { rss: 1, heapUsed: 1 },
};

describe('report text view', () => {
  it('derives the mapping table from subflows when the stack report has none', () => {
    const rows = mappingRows(base);
    expect(rows.map((r) => r.endpoint)).toEqual([
      '<10.0.1.1, 10.0.1.2, 40001, 5001>',
      '<10.0.2.1, 10.0.2.2, 40002, 5001>',
    ]);
    const text = formatReport('a', base);
    expect(text).toContain('connections: 1');
    expect(text).toMatch(/\| token\s+\| path index \| endpoint id/);
    expect(text).toContain('| conn 1 | 2          | <10.0.2.1, 10.0.2.2, 40002, 5001>');
  });

  it("uses the stack's own report and its mapping table when present", () => {
    const stack: CoreReport = {
      now: 12,
      addresses: ['10.0.1.1'],
      connections: [],
      mappingTable: [
        {
          token: '0xdeadbeef',
          pathIndex: 1,
          endpoint: { srcAddr: 'A1', dstAddr: 'B1', srcPort: 1, dstPort: 2 },
          state: 'established',
          backup: false,
        },
        {
          token: '0xdeadbeef',
          pathIndex: 2,
          endpoint: { srcAddr: 'A2', dstAddr: 'B2', srcPort: 0, dstPort: 2 },
          state: 'pending',
          backup: false,
        },
      ],
      mib: {},
    };
    const r = { ...base, stack };
    expect(mappingRows(r).map((m) => `${m.token} ${m.pathIndex} ${m.endpoint}`)).toEqual([
      '0xdeadbeef 1 <A1, B1, 1, 2>',
      '0xdeadbeef 2 <A2, B2, 0, 2>',
    ]);
    const text = formatReport('a', r);
    expect(text).toContain('node a: mptcp core');
    expect(text).toContain('Mapping table');
    expect(text).toContain('<A2, B2, 0, 2>');
  });
});

describe('address comparison', () => {
  it('canonicalizes IPv6 text so the model and the agent agree', async () => {
    const { canonicalIp } = await import('../../../lab/agents');
    expect(canonicalIp('fd00:0:0:1:0:0:0:1')).toBe('fd00:0:0:1::1');
    expect(canonicalIp('FD00::0001')).toBe('fd00::1');
    expect(canonicalIp('10.0.1.1')).toBe('10.0.1.1');
  });
});

describe('interface counters', () => {
  it('joins ip -s -j link and tc -s -j qdisc output per interface', async () => {
    const { parseCounters } = await import('../../../lab/lab');
    const link = JSON.stringify([
      {
        ifname: 'lo',
        operstate: 'UNKNOWN',
        flags: ['LOOPBACK', 'UP', 'LOWER_UP'],
        stats64: { rx: { bytes: 0, packets: 0, dropped: 0 }, tx: { bytes: 0, packets: 0, dropped: 0 } },
      },
      {
        ifname: 'eth1',
        operstate: 'UP',
        flags: ['UP'],
        stats64: { rx: { bytes: 10, packets: 1, dropped: 0 }, tx: { bytes: 3000, packets: 2, dropped: 1 } },
      },
    ]);
    const qdisc = JSON.stringify([
      {
        kind: 'tbf',
        handle: '1:',
        dev: 'eth1',
        root: true,
        drops: 4,
        overlimits: 9,
        backlog: 1514,
        packets: 2,
      },
      {
        kind: 'netem',
        handle: '10:',
        dev: 'eth1',
        parent: '1:1',
        drops: 3,
        overlimits: 0,
        backlog: 0,
        packets: 5,
      },
    ]);
    const c = parseCounters(link, qdisc);
    expect(c.get('eth1')).toEqual({
      rxBytes: 10,
      rxPackets: 1,
      txBytes: 3000,
      txPackets: 2,
      rxDropped: 0,
      txDropped: 1,
      operUp: true,
      qdisc: { drops: 7, overlimits: 9, backlog: 1514, packets: 2 },
    });
    expect(c.get('lo')?.qdisc).toBeUndefined();
  });
});
