import { describe, expect, it } from 'vitest';
import type { Packet } from '../../../stack/core/contract';
import { SynGuard, tupleKey } from '../../../stack/runtime/syn-guard';

function seg(src: string, sport: number, flags: number): Packet {
  const d = new Uint8Array(20);
  d[0] = sport >> 8;
  d[1] = sport & 0xff;
  d[3] = 80;
  d[12] = 0x50;
  d[13] = flags;
  return { src, dst: '10.0.0.1', data: d };
}

describe('SynGuard', () => {
  it('caps half-open handshakes per source and overall; non-SYNs always pass', () => {
    const live = new Set<string>();
    const g = new SynGuard({ backlog: 10, perSource: 4, sweepIntervalMs: 0 }, () => live);
    const admit = (src: string, port: number) => {
      const ok = g.admit(seg(src, port, 0x02), 0);
      if (ok) live.add(tupleKey('10.0.0.1', 80, src, port));
      return ok;
    };
    let ok = 0;
    for (let i = 0; i < 100; i++) if (admit('10.9.9.9', 1000 + i)) ok++;
    expect(ok).toBe(4);
    // Another source still gets in: one flooder does not lock others out.
    expect(admit('10.0.0.2', 5000)).toBe(true);
    for (let s = 3; s < 10; s++) for (let i = 0; i < 4; i++) admit(`10.0.0.${s}`, 2000 + i);
    expect(g.halfOpen).toBe(10);
    expect(admit('10.0.0.200', 1)).toBe(false);
    // ACKs, SYN-ACKs and RSTs are never held back.
    expect(g.admit(seg('10.9.9.9', 7, 0x10), 0)).toBe(true);
    expect(g.admit(seg('10.9.9.9', 7, 0x12), 0)).toBe(true);
    expect(g.admit(seg('10.9.9.9', 7, 0x04), 0)).toBe(true);
    // A retransmitted SYN of an admitted handshake passes.
    expect(g.admit(seg('10.9.9.9', 1000, 0x02), 0)).toBe(true);
    // Once the core no longer holds them half-open (completed or timed out), room comes back.
    live.clear();
    expect(admit('10.0.0.200', 1)).toBe(true);
    expect(g.halfOpen).toBe(1);
    expect(g.dropped).toBeGreaterThan(90);
  });

  it('without a core view, forgets entries after ttl', () => {
    const g = new SynGuard({ backlog: 2, perSource: 2, ttlMs: 100 });
    expect(g.admit(seg('a', 1, 2), 0)).toBe(true);
    expect(g.admit(seg('a', 2, 2), 0)).toBe(true);
    expect(g.admit(seg('a', 3, 2), 50)).toBe(false);
    expect(g.admit(seg('a', 3, 2), 150)).toBe(true);
  });
});
