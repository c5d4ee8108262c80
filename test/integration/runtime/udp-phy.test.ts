/**
 * The UDP phy on real loopback sockets: explicit addresses are used only while present, datagrams
 * keep the 4-tuple's addresses, garbage is counted, and a closed phy releases its port.
 */
import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import type { Packet } from '../../../stack/core/contract';
import { hostAddresses, mtuOf, UdpPhy } from '../../../stack/runtime/udp-phy';

function port(): number {
  return 20000 + Math.floor(Math.random() * 30000);
}

function segment(sport: number, dport: number): Uint8Array {
  const d = new Uint8Array(24);
  d[0] = sport >> 8;
  d[1] = sport & 0xff;
  d[2] = dport >> 8;
  d[3] = dport & 0xff;
  d[12] = 5 << 4;
  d[13] = 0x10;
  return d;
}

describe('UdpPhy', () => {
  it('binds only the explicit addresses that exist, and carries 4-tuple addresses both ways', async () => {
    const p = port();
    // 192.0.2.1 (TEST-NET-1) is not on this host: skipped, not an error.
    const a = new UdpPhy({ port: p, addresses: ['127.0.0.1', '192.0.2.1', '127.0.0.2'], pollMs: 0 });
    const b = new UdpPhy({ port: p, addresses: ['127.0.0.3'], pollMs: 0 });
    try {
      expect(await a.start()).toEqual(['127.0.0.1', '127.0.0.2']);
      expect(await b.start()).toEqual(['127.0.0.3']);
      const got: Packet[] = [];
      b.onPacket = (pk) => got.push(pk);
      a.send([
        { src: '127.0.0.1', dst: '127.0.0.3', data: segment(1000, 80) },
        { src: '127.0.0.2', dst: '127.0.0.3', data: segment(1001, 80) },
        // No socket for a source that is not bound: counted, not sent.
        { src: '192.0.2.1', dst: '127.0.0.3', data: segment(1002, 80) },
      ]);
      for (let i = 0; i < 50 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(got.map((g) => [g.src, g.dst, (g.data[0]! << 8) | g.data[1]!])).toEqual([
        ['127.0.0.1', '127.0.0.3', 1000],
        ['127.0.0.2', '127.0.0.3', 1001],
      ]);
      expect(a.counters.noSocket).toBe(1);
      expect(a.counters.datagramsOut).toBe(2);
      // Garbage: too short, and a header length beyond the datagram.
      const junk = createSocket('udp4');
      const bad = segment(1, 2);
      bad[12] = 15 << 4;
      await new Promise<void>((r) => junk.send(new Uint8Array(3), p, '127.0.0.3', () => r()));
      await new Promise<void>((r) => junk.send(bad, p, '127.0.0.3', () => r()));
      junk.close();
      for (let i = 0; i < 50 && b.counters.garbageDropped < 2; i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(b.counters.garbageDropped).toBe(2);
      expect(got).toHaveLength(2);
    } finally {
      await a.close();
      await b.close();
    }
    // The port is free again.
    const again = new UdpPhy({ port: p, addresses: ['127.0.0.1'], pollMs: 0 });
    expect(await again.start()).toEqual(['127.0.0.1']);
    await again.close();
  });

  it('learns addresses from the host and knows their MTU', () => {
    const all = hostAddresses({ includeLoopback: true });
    expect(all).toContain('127.0.0.1');
    expect(hostAddresses().includes('127.0.0.1')).toBe(false);
    expect(mtuOf('127.0.0.1')).toBe(65536);
  });
});
