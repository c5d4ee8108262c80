import { describe, expect, it } from 'vitest';
import { buildPair, startBulk } from '../../../stack/sim/index';
import { WindowCore } from '../../../stack/sim/testcores';
import { MemoryPcap } from '../../../stack/wire/pcap';
import { verifySegmentChecksum } from '../../../stack/wire/tcp';

interface Rec {
  t: number;
  ip: Uint8Array;
}

function parsePcap(b: Uint8Array): Rec[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  expect(v.getUint32(0, true)).toBe(0xa1b2c3d4);
  expect(v.getUint32(20, true)).toBe(101); // raw IP
  const out: Rec[] = [];
  let o = 24;
  while (o < b.length) {
    const sec = v.getUint32(o, true);
    const usec = v.getUint32(o + 4, true);
    const incl = v.getUint32(o + 8, true);
    out.push({ t: sec * 1000 + usec / 1000, ip: b.subarray(o + 16, o + 16 + incl) });
    o += 16 + incl;
  }
  return out;
}

describe('link capture', () => {
  it('writes every delivered packet as an IP packet with a valid TCP checksum, at virtual time', () => {
    const p = buildPair({ factory: () => new WindowCore(), rateMbps: 10, delayMs: 3.25, loss: 0.1, seed: 3 });
    const rx = new MemoryPcap();
    const enq = new MemoryPcap();
    p.link.capture(rx);
    const stop = p.link.capture(enq, { dir: 'ab', point: 'enq' });
    const times: number[] = [];
    p.link.tap((t, _pkt, point) => {
      if (point === 'rx') times.push(t);
    });
    const x = startBulk(p.sim, { client: p.a, server: p.b, bytes: 100_000 });
    p.sim.runWhile(() => !x.done, 30_000);
    expect(x.ok).toBe(true);
    stop();
    p.sim.run();
    const recs = parsePcap(rx.bytes());
    const c = p.link.counters();
    expect(recs).toHaveLength(c.ab.deliveredPackets + c.ba.deliveredPackets);
    recs.forEach((r, i) => {
      expect(Math.abs(r.t - times[i]!)).toBeLessThan(0.0011); // pcap keeps microseconds
    });
    for (const r of recs.slice(0, 50)) {
      expect(r.ip[0]! >> 4).toBe(4);
      expect(r.ip[9]).toBe(6);
      const src = [...r.ip.subarray(12, 16)].join('.');
      const dst = [...r.ip.subarray(16, 20)].join('.');
      expect(verifySegmentChecksum(r.ip.subarray(20), src, dst)).toBe(true);
    }
    // the sender-side capture includes packets the link then lost, and stopped when asked
    expect(c.ab.dropped.random).toBeGreaterThan(0);
    const sent = parsePcap(enq.bytes());
    expect(sent.length).toBeGreaterThan(c.ab.deliveredPackets);
    expect(sent.length).toBeLessThanOrEqual(c.ab.sentPackets);
  });
});
