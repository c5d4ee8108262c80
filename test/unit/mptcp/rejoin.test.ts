/**
 * An address that goes away and comes back during an upload: the returning MP_JOIN subflow must
 * carry data even when its handshake needed a retransmission. Found by the runtime netns test (the
 * first SYN from a link just set up is often lost): the SYN's RTO marked the joining subflow
 * stalled, only acked data clears that flag, and a stalled subflow is given no data, so it stayed
 * ESTABLISHED on both ends and idle for good.
 */
import { describe, expect, it } from 'vitest';
import { buildTwoPath, startBulk } from '../../../stack/sim/index';
import { decodeSegment } from '../../../stack/wire/tcp';
import { isParseError } from '../../../stack/wire/types';
import { hostOf, mptcpFactory } from './helpers';

const BACK_AT = 2500;

type Lose = 'none' | 'syn' | 'synack' | 'third-ack' | 'fourth-ack';

/** Drops, on path 2 after the address came back, the first packet of the join's handshake named. */
function run(lose: Lose) {
  const b = buildTwoPath({
    factory: mptcpFactory(),
    server: 'single',
    paths: [
      { rateMbps: 10, delayMs: 10 },
      { rateMbps: 10, delayMs: 10 },
    ],
  });
  const lost: number[] = [];
  const up = lose === 'syn' || lose === 'third-ack';
  const syn = lose === 'syn' || lose === 'synack';
  if (lose !== 'none') {
    (up ? b.paths[1]!.ab : b.paths[1]!.ba).set({
      middlebox: (p, ctx) => {
        if (ctx.now < BACK_AT || lost.length > 0) return p;
        const s = decodeSegment(p.data);
        if (isParseError(s) || ((s.flags & 0x02) !== 0) !== syn) return p;
        // The third ACK is the client's first segment with MP_JOIN and no SYN; the fourth ACK is
        // the server's first segment after its SYN/ACK.
        if (lose === 'third-ack' && !s.options.some((o) => o.kind === 'mptcp' && o.mp.subtype === 'MP_JOIN'))
          return p;
        if (syn && !s.options.some((o) => o.kind === 'mptcp' && o.mp.subtype === 'MP_JOIN')) return p;
        lost.push(ctx.now);
        return null;
      },
    });
  }
  const t = startBulk(b.sim, { client: b.client, server: b.server, bytes: 16_000_000 });
  const iface = b.client.ifaces[1]!;
  b.sim.at(1000, () => b.client.removeAddress(b.clientAddrs[1]!));
  b.sim.at(BACK_AT, () => b.client.addAddress(b.clientAddrs[1]!, iface));
  // Path 2's upload bytes delivered, before and after the address came back.
  let upAtBack = 0;
  b.sim.at(BACK_AT, () => {
    upAtBack = b.paths[1]!.ab.counters.deliveredBytes;
  });
  b.sim.runWhile(() => !t.done, 60_000);
  const rep = hostOf(b.client.core).report();
  const rejoined = rep.connections[0]!.subflows.filter((s) => s.pathIndex === 2);
  return {
    ok: t.ok,
    lost,
    end: b.sim.now,
    rejoined,
    upAfter: b.paths[1]!.ab.counters.deliveredBytes - upAtBack,
    mib: rep.mib,
  };
}

describe('an address that comes back mid-upload', () => {
  const names: Record<Lose, string> = {
    none: 'no loss',
    syn: 'its first SYN lost',
    synack: 'its first SYN/ACK lost',
    'third-ack': 'its third ACK lost',
    'fourth-ack': 'its fourth ACK lost',
  };
  for (const lose of Object.keys(names) as Lose[]) {
    it(`the new subflow carries data (${names[lose]})`, () => {
      const r = run(lose);
      expect(r.ok).toBe(true);
      if (lose !== 'none') expect(r.lost).toHaveLength(1);
      // The old subflow closed, a new one from the same address (pathIndex 2) took over.
      expect(r.rejoined).toHaveLength(2);
      expect(r.rejoined[0]!.state).toBe('CLOSED');
      const fresh = r.rejoined[1]!;
      // With the join done about 1 s after the address came back (a SYN RTO) and the transfer
      // running 3 s more at 2 x 10 Mbit/s, the new subflow moves well over 1 MB.
      expect(r.end - BACK_AT).toBeGreaterThan(2500);
      expect(fresh.bytesAcked).toBeGreaterThan(1_000_000);
      expect(r.upAfter).toBeGreaterThan(1_000_000);
      expect(r.mib.MPJoinAccepted).toBe(2);
    });
  }
});
