/**
 * One-shot signals during a bulk transfer: every data segment's option space is full (timestamps +
 * DSS), so an ADD_ADDR or its echo must leave on a bare ACK at once. Found against the Linux kernel
 * (docs/interop.md): the kernel's ADD_ADDR comes on a pure ACK without a DSS (Linux drops the other
 * suboptions there), so our client, still repeating MP_CAPABLE on its bare ACKs until the server's
 * first DSS, left the echo (and its own ADD_ADDR) waiting 100-300 ms, until a retransmission.
 */
import { describe, expect, it } from 'vitest';
import { buildTwoPath, startBulk } from '../../../stack/sim/index';
import { decodeSegment, encodeSegment } from '../../../stack/wire/tcp';
import type { AddAddr } from '../../../stack/wire/types';
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

function addAddrsOf(data: Uint8Array): { mps: AddAddr[]; payload: number } {
  const s = decodeSegment(data);
  const mps: AddAddr[] = [];
  if (isParseError(s)) return { mps, payload: 0 };
  for (const o of s.options) if (o.kind === 'mptcp' && o.mp.subtype === 'ADD_ADDR') mps.push(o.mp);
  return { mps, payload: s.payload.length };
}

/**
 * A client uploading over two 100 Mbit/s paths to a two-address server. `loseFirst`: the server's
 * first ADD_ADDR is lost (its retransmission, 300 ms later, arrives mid-transfer). `linuxLike`: the
 * server's ADD_ADDR ACKs carry no DSS, as Linux sends them.
 */
function upload(opts: { loseFirst: boolean; linuxLike: boolean }) {
  const b = buildTwoPath({
    factory: mptcpFactory({ 'net.mptcp.mptcp_add_addr_timeout': 300 }),
    paths: [
      { rateMbps: 100, delayMs: ONE_WAY_MS },
      { rateMbps: 100, delayMs: ONE_WAY_MS },
    ],
  });
  const seen: Seen[] = [];
  let dropped = -1;
  for (const p of b.paths) {
    p.ba.set({
      middlebox: (pkt, ctx) => {
        const { mps } = addAddrsOf(pkt.data);
        if (!mps.some((m) => !m.echo)) return pkt;
        if (opts.loseFirst && dropped < 0) {
          dropped = ctx.now;
          return null;
        }
        if (!opts.linuxLike) return pkt;
        const s = decodeSegment(pkt.data);
        if (isParseError(s)) return pkt;
        s.options = s.options.filter((o) => !(o.kind === 'mptcp' && o.mp.subtype === 'DSS'));
        return { ...pkt, data: encodeSegment(s, pkt.src, pkt.dst) };
      },
    });
    // When the client sends (offered to the link, before any queue) and when it receives.
    p.tap((at, pkt, point, dir) => {
      if ((dir === 'ab') !== (point === 'enq')) return;
      const { mps, payload } = addAddrsOf(pkt.data);
      for (const m of mps)
        seen.push({ at, dir: dir === 'ab' ? 'up' : 'down', echo: m.echo, id: m.addressId, payload });
    });
  }
  const t = startBulk(b.sim, { client: b.client, server: b.server, bytes: 15_000_000 });
  let upAt300 = 0;
  b.sim.at(300, () => {
    upAt300 = b.paths[0]!.ab.counters.deliveredBytes;
  });
  b.sim.runWhile(() => !t.done, 60_000);
  expect(t.ok).toBe(true);
  return { b, seen, dropped, end: b.sim.now, upAt300 };
}

/** Every ADD_ADDR the client received is echoed within one RTT, on a bare ACK. */
function expectEchoedAtOnce(seen: Seen[]): Seen[] {
  const announces = seen.filter((s) => s.dir === 'down' && !s.echo);
  expect(announces.length).toBeGreaterThan(0);
  for (const a of announces) {
    const echo = seen.find((s) => s.dir === 'up' && s.echo && s.id === a.id && s.at >= a.at);
    expect(echo, `echo of the ADD_ADDR received at ${a.at} ms`).toBeDefined();
    expect(echo!.at - a.at, 'echo delay (ms)').toBeLessThanOrEqual(RTT_MS);
    expect(echo!.payload).toBe(0);
  }
  return announces;
}

describe('ADD_ADDR and its echo during an upload', () => {
  it("a Linux-like server's ADD_ADDR (no DSS beside it) is echoed within one RTT", () => {
    const r = upload({ loseFirst: false, linuxLike: true });
    const announces = expectEchoedAtOnce(r.seen);
    // Echoed at once: the server never announced twice.
    expect(announces).toHaveLength(1);
    expect(hostOf(r.b.server.core).report().mib.AddAddrTx).toBe(1);
    expect(hostOf(r.b.server.core).report().mib.EchoAdd).toBe(1);
  });

  it("the client's own ADD_ADDR leaves at once after the handshake, not on its retransmission", () => {
    const r = upload({ loseFirst: false, linuxLike: true });
    const mine = r.seen.filter((s) => s.dir === 'up' && !s.echo);
    expect(mine).toHaveLength(1);
    // The handshake takes one RTT (plus serialization): the announce follows within one more.
    expect(mine[0]!.at).toBeLessThanOrEqual(3 * RTT_MS);
    expect(hostOf(r.b.client.core).report().mib.AddAddrTx).toBe(1);
  });

  it('an ADD_ADDR arriving while the client sends at full rate is echoed within one RTT', () => {
    const r = upload({ loseFirst: true, linuxLike: false });
    expect(r.dropped).toBeGreaterThan(0);
    const announces = expectEchoedAtOnce(r.seen);
    expect(announces).toHaveLength(1);
    const late = announces[0]!;
    expect(late.at - r.dropped).toBeGreaterThanOrEqual(290);
    // The client was busy sending: well before the end, over 1 MB already up path 1.
    expect(late.at).toBeLessThan(r.end - 100);
    expect(r.upAt300).toBeGreaterThan(1_000_000);
    expect(hostOf(r.b.server.core).report().mib.AddAddrTx).toBe(2);
    expect(hostOf(r.b.server.core).report().mib.EchoAdd).toBe(1);
  });
});
