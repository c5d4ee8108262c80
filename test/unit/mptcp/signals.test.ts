/**
 * One-shot signals during a bulk transfer: every data segment's option space is full (timestamps +
 * DSS), so an ADD_ADDR echo (or ADD_ADDR, REMOVE_ADDR, MP_PRIO) must leave on a bare ACK at once,
 * not wait for the end of the transfer (found against the Linux kernel, docs/interop.md).
 */
import { describe, expect, it } from 'vitest';
import { buildTwoPath, startBulk } from '../../../stack/sim/index';
import { decodeSegment } from '../../../stack/wire/tcp';
import { isParseError } from '../../../stack/wire/types';
import { hostOf, mptcpFactory } from './helpers';

interface Seen {
  at: number;
  dir: 'up' | 'down';
  echo: boolean;
  id: number;
  payload: number;
}

const ONE_WAY_MS = 5;
const RTT_MS = 2 * ONE_WAY_MS;

function upload() {
  const b = buildTwoPath({
    // The first ADD_ADDR is lost (below); its retransmission comes 300 ms later, mid-transfer.
    factory: mptcpFactory({ 'net.mptcp.mptcp_add_addr_timeout': 300 }),
    paths: [
      { rateMbps: 100, delayMs: ONE_WAY_MS },
      { rateMbps: 100, delayMs: ONE_WAY_MS },
    ],
  });
  const seen: Seen[] = [];
  let dropped = -1;
  const addAddrOf = (data: Uint8Array) => {
    const s = decodeSegment(data);
    if (isParseError(s)) return undefined;
    for (const o of s.options)
      if (o.kind === 'mptcp' && o.mp.subtype === 'ADD_ADDR') return { mp: o.mp, payload: s.payload.length };
    return undefined;
  };
  for (const p of b.paths) {
    p.ba.set({
      middlebox: (pkt, ctx) => {
        const a = addAddrOf(pkt.data);
        if (a && !a.mp.echo && dropped < 0) {
          dropped = ctx.now;
          return null;
        }
        return pkt;
      },
    });
    // When the client sends (offered to the link, before any queue) and when it receives.
    p.tap((at, pkt, point, dir) => {
      if ((dir === 'ab') !== (point === 'enq')) return;
      const a = addAddrOf(pkt.data);
      if (a?.mp.subtype !== 'ADD_ADDR') return;
      seen.push({
        at,
        dir: dir === 'ab' ? 'up' : 'down',
        echo: a.mp.echo,
        id: a.mp.addressId,
        payload: a.payload,
      });
    });
  }
  return { b, seen, dropped: () => dropped };
}

describe('signals during an upload', () => {
  it("the server's ADD_ADDR is echoed within one RTT while the client sends at full rate", () => {
    const { b, seen, dropped } = upload();
    const t = startBulk(b.sim, { client: b.client, server: b.server, bytes: 15_000_000 });
    let upAt300 = 0;
    b.sim.at(300, () => {
      upAt300 = b.paths[0]!.ab.counters.deliveredBytes;
    });
    b.sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    const end = b.sim.now;
    const announces = seen.filter((s) => s.dir === 'down' && !s.echo);
    expect(dropped()).toBeGreaterThan(0);
    expect(announces).toHaveLength(1);
    const late = announces[0]!;
    expect(late.at - dropped()).toBeGreaterThanOrEqual(290);
    // The client was busy sending: well before the end, over 1 MB already up path 1.
    expect(late.at).toBeLessThan(end - 100);
    expect(upAt300).toBeGreaterThan(1_000_000);
    for (const a of announces) {
      const echo = seen.find((s) => s.dir === 'up' && s.echo && s.id === a.id && s.at >= a.at);
      expect(echo, `echo of the ADD_ADDR sent at ${a.at} ms`).toBeDefined();
      expect(echo!.at - a.at).toBeLessThanOrEqual(RTT_MS);
      expect(echo!.payload).toBe(0); // a bare ACK
    }
    // Sent twice (the first lost), echoed once: no third announce.
    expect(hostOf(b.server.core).report().mib.AddAddrTx).toBe(2);
    expect(hostOf(b.server.core).report().mib.EchoAdd).toBe(1);
  });
});
