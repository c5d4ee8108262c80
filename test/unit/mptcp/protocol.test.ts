/**
 * The segments on the wire, decoded and checked against RFC 8684 with the crypto recomputed here:
 * MP_CAPABLE v1 exchange (keys, third ACK, data in the first data packet), MP_JOIN HMACs,
 * ADD_ADDR HMAC and echo, DSS mappings and data ACKs, DATA_FIN.
 */
import { describe, expect, it } from 'vitest';
import type { Packet } from '../../../stack/core/contract';
import { buildTwoPath, startBulk } from '../../../stack/sim/index';
import { addAddrHmac, idsnOf, joinAckHmac, joinSynAckHmac, tokenOf } from '../../../stack/wire/crypto';
import { decodeSegment, encodeSegment } from '../../../stack/wire/tcp';
import { ACK, isParseError, type MptcpOption, SYN, type TcpSegment } from '../../../stack/wire/types';
import { hostOf, mptcpFactory } from './helpers';

interface Seen {
  t: number;
  link: string;
  dir: string;
  src: string;
  dst: string;
  seg: TcpSegment;
  mp: MptcpOption[];
}

function capture(
  paths: { name: string; ab: { set: (p: object) => void }; ba: { set: (p: object) => void } }[],
) {
  const seen: Seen[] = [];
  for (const l of paths) {
    for (const dir of ['ab', 'ba'] as const) {
      l[dir].set({
        middlebox: (p: Packet, ctx: { now: number }) => {
          const seg = decodeSegment(p.data);
          if (!isParseError(seg)) {
            const mp = seg.options.flatMap((o) => (o.kind === 'mptcp' ? [o.mp] : []));
            seen.push({ t: ctx.now, link: l.name, dir, src: p.src, dst: p.dst, seg, mp });
          }
          return p;
        },
      });
    }
  }
  return seen;
}

const has = (s: Seen, f: number) => (s.seg.flags & (SYN | ACK)) === f;

describe('on the wire (RFC 8684)', () => {
  it('MP_CAPABLE, MP_JOIN, ADD_ADDR, DSS and DATA_FIN carry what the RFC says', () => {
    const b = buildTwoPath({
      factory: mptcpFactory({ 'net.mptcp.mptcp_checksum': 1 }),
      paths: [
        { rateMbps: 10, delayMs: 10 },
        { rateMbps: 10, delayMs: 10 },
      ],
    });
    const seen = capture(b.paths);
    const t = startBulk(b.sim, { client: b.client, server: b.server, bytes: 300_000 });
    b.sim.runWhile(() => !t.done, 60_000);
    b.sim.runFor(500);
    expect(t.ok).toBe(true);
    const c = hostOf(b.client.core).connection(t.clientConn)!;
    const keyA = c.local!.key;
    const keyB = c.remoteKey!;
    const mpc = (s: Seen) => s.mp.find((m) => m.subtype === 'MP_CAPABLE');

    // 1. SYN: MP_CAPABLE v1, no key, A (checksum) and H set.
    const syn = seen.find((s) => has(s, SYN) && mpc(s))!;
    expect(mpc(syn)).toMatchObject({ version: 1, a: true, h: true });
    expect(mpc(syn)).not.toHaveProperty('senderKey');
    // 2. SYN/ACK: the server's key.
    const synack = seen.find((s) => has(s, SYN | ACK) && mpc(s))!;
    expect(mpc(synack)).toMatchObject({ version: 1, senderKey: keyB });
    expect(synack.seg.ack).toBe((syn.seg.seq + 1) >>> 0);
    // 3. Third ACK: both keys.
    const third = seen.find((s) => s.t >= synack.t && has(s, ACK) && s.seg.payload.length === 0 && mpc(s))!;
    expect(mpc(third)).toMatchObject({ senderKey: keyA, receiverKey: keyB });
    // 4. First data packet: both keys and the data-level length (the DSN is IDSN + 1, implied).
    const first = seen.find((s) => s.src === syn.src && s.seg.payload.length > 0)!;
    const m1 = mpc(first)!;
    expect(m1).toMatchObject({ senderKey: keyA, receiverKey: keyB, dataLength: first.seg.payload.length });
    expect(m1).toHaveProperty('checksum');
    // 5. Later data: DSS with a 64-bit DSN relative to the IDSN, the relative subflow seq, a checksum.
    const idsnA = idsnOf(keyA);
    const dataSegs = seen.filter((s) => s.link === syn.link && s.src === syn.src && s.seg.payload.length > 0);
    const dss = dataSegs
      .map((s) => ({ s, d: s.mp.find((m) => m.subtype === 'DSS') }))
      .filter((x) => x.d && x.d.subtype === 'DSS' && x.d.mapping);
    expect(dss.length).toBeGreaterThan(10);
    for (const { s, d } of dss.slice(0, 50)) {
      if (d?.subtype !== 'DSS' || !d.mapping) throw new Error('no mapping');
      expect(d.mapping.dsn8).toBe(true);
      expect(d.mapping.length).toBe(s.seg.payload.length);
      expect(d.mapping.ssn).toBe((s.seg.seq - syn.seg.seq) >>> 0);
      expect(d.mapping.dsn - idsnA - 1n).toBeGreaterThanOrEqual(0n);
      expect(d.mapping.checksum).toBeTypeOf('number');
    }
    // 6. The server's data ACKs count bytes from IDSN_A + 1.
    const fromServer = (s: Seen) => b.serverAddrs.includes(s.src);
    const acks = seen.filter(
      (s) => fromServer(s) && s.mp.some((m) => m.subtype === 'DSS' && m.dataAck !== undefined),
    );
    const lastAck = acks.at(-1)!.mp.find((m) => m.subtype === 'DSS');
    if (lastAck?.subtype !== 'DSS') throw new Error('no DSS');
    // 300 000 bytes and the DATA_FIN.
    const want = (idsnA + 1n + 300_000n + 1n) & 0xffff_ffff_ffff_ffffn;
    // Bare ACKs carry the 4-octet form (the lower half), data segments the 8-octet one.
    expect(lastAck.dataAck).toBe(lastAck.dataAck8 ? want : want & 0xffff_ffffn);
    expect(
      acks.some((s) => s.mp.some((m) => m.subtype === 'DSS' && m.dataAck !== undefined && !m.dataAck8)),
    ).toBe(true);
    // 7. DATA_FIN: a DSS with F, mapping of length 1 at DSN IDSN + 1 + 300000, subflow seq 0.
    const fin = seen.find((s) => !fromServer(s) && s.mp.some((m) => m.subtype === 'DSS' && m.dataFin))!;
    const fd = fin.mp.find((m) => m.subtype === 'DSS');
    if (fd?.subtype !== 'DSS' || !fd.mapping) throw new Error('no DATA_FIN mapping');
    expect(fd.mapping).toMatchObject({ dsn: idsnA + 1n + 300_000n, ssn: 0, length: 1 });

    // 8. ADD_ADDR from the server for its second address, HMAC = HMAC(KeyB||KeyA, id||addr) rightmost 64 bits.
    const add = seen.find((s) => fromServer(s) && s.mp.some((m) => m.subtype === 'ADD_ADDR' && !m.echo))!;
    const a = add.mp.find((m) => m.subtype === 'ADD_ADDR');
    if (a?.subtype !== 'ADD_ADDR') throw new Error('no ADD_ADDR');
    expect(a.address).toBe(b.serverAddrs[1]);
    expect(a.hmac).toBe(addAddrHmac(keyB, keyA, a.addressId, a.address));
    // ...echoed by the client.
    expect(
      seen.some(
        (s) =>
          !fromServer(s) &&
          s.mp.some((m) => m.subtype === 'ADD_ADDR' && m.echo && m.addressId === a.addressId),
      ),
    ).toBe(true);

    // 9. MP_JOIN: the token of the server's key, HMACs both ways.
    const jsyn = seen.find((s) => has(s, SYN) && s.mp.some((m) => m.subtype === 'MP_JOIN'))!;
    const j1 = jsyn.mp.find((m) => m.subtype === 'MP_JOIN');
    if (j1?.subtype !== 'MP_JOIN' || j1.form !== 'syn') throw new Error('no MP_JOIN SYN');
    expect(j1.token).toBe(tokenOf(keyB));
    const jsynack = seen.find(
      (s) =>
        has(s, SYN | ACK) && s.seg.dstPort === jsyn.seg.srcPort && s.mp.some((m) => m.subtype === 'MP_JOIN'),
    )!;
    const j2 = jsynack.mp.find((m) => m.subtype === 'MP_JOIN');
    if (j2?.subtype !== 'MP_JOIN' || j2.form !== 'synack') throw new Error('no MP_JOIN SYN/ACK');
    expect(j2.truncatedHmac).toBe(joinSynAckHmac(keyB, keyA, j2.nonce, j1.nonce));
    const jack = seen.find(
      (s) =>
        s.seg.srcPort === jsyn.seg.srcPort && s.mp.some((m) => m.subtype === 'MP_JOIN' && m.form === 'ack'),
    )!;
    const j3 = jack.mp.find((m) => m.subtype === 'MP_JOIN');
    if (j3?.subtype !== 'MP_JOIN' || j3.form !== 'ack') throw new Error('no MP_JOIN ACK');
    expect(Buffer.from(j3.hmac)).toEqual(Buffer.from(joinAckHmac(keyA, keyB, j1.nonce, j2.nonce)));
  });

  it('an ADD_ADDR with a bad HMAC is ignored and counted', () => {
    const b = buildTwoPath({
      factory: mptcpFactory(),
      paths: [
        { rateMbps: 10, delayMs: 10 },
        { rateMbps: 10, delayMs: 10 },
      ],
    });
    b.paths[0]!.ba.set({
      middlebox: (p: Packet) => {
        const s = decodeSegment(p.data);
        if (isParseError(s)) return p;
        let hit = false;
        for (const o of s.options) {
          if (o.kind === 'mptcp' && o.mp.subtype === 'ADD_ADDR' && o.mp.hmac !== undefined) {
            o.mp.hmac ^= 0xffn;
            hit = true;
          }
        }
        return hit ? { src: p.src, dst: p.dst, data: encodeSegment(s, p.src, p.dst) } : p;
      },
    });
    const t = startBulk(b.sim, { client: b.client, server: b.server, bytes: 1_000_000 });
    b.sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    const r = hostOf(b.client.core).report();
    expect(r.mib.AddAddrBadHmac).toBeGreaterThanOrEqual(1);
    expect(r.mib.AddAddr).toBe(0);
    // No subflow toward the server's second address (only A2 -> B1 from fullmesh).
    expect(r.connections[0]!.subflows.some((s) => s.remote.address === b.serverAddrs[1])).toBe(false);
  });
});
