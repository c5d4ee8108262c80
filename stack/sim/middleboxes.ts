/**
 * Ready-made middleboxes for simulator links (see Link.setMiddlebox). They work on the encoded TCP
 * segment and keep its checksum right, as real middleboxes do, so only protocol-level checks (the
 * MPTCP DSS checksum, HMACs) can notice what they did.
 */
import type { Packet } from '../core/contract';
import { setTcpChecksum } from '../wire/tcp';
import type { Middlebox, MiddleboxContext } from './types';

const EOL = 0;
const NOP = 1;

/** Header length in bytes (data offset), or 0 when the data is not a plausible TCP segment. */
function headerLength(d: Uint8Array): number {
  if (d.length < 20) return 0;
  const h = (d[12]! >> 4) * 4;
  return h >= 20 && h <= d.length ? h : 0;
}

/** The option kinds present in a segment's header, in order (NOP and EOL left out). */
export function tcpOptionKinds(data: Uint8Array): number[] {
  const h = headerLength(data);
  const kinds: number[] = [];
  let o = 20;
  while (o < h) {
    const k = data[o]!;
    if (k === EOL) break;
    if (k === NOP) {
      o++;
      continue;
    }
    const len = data[o + 1] ?? 0;
    if (len < 2 || o + len > h) break;
    kinds.push(k);
    o += len;
  }
  return kinds;
}

/** The TCP flags byte (FIN 1, SYN 2, RST 4, PSH 8, ACK 16). */
export function tcpFlags(data: Uint8Array): number {
  return data.length >= 14 ? data[13]! : 0;
}

/** The payload of a segment (a view). */
export function tcpPayload(data: Uint8Array): Uint8Array {
  return data.subarray(headerLength(data) || data.length);
}

/** Recomputes the checksum of a packet's segment in place. */
export function fixTcpChecksum(pkt: Packet): Packet {
  setTcpChecksum(pkt.data, pkt.src, pkt.dst);
  return pkt;
}

export interface StripOptions {
  /** 'remove' (default) shortens the header; 'nop' overwrites the options with NOPs. */
  mode?: 'remove' | 'nop';
  /** Only on segments whose flags include all of these bits (e.g. 2 = SYN). */
  flags?: number;
}

/**
 * Strips TCP options of the given kinds (30 = MPTCP) from every segment (or only those matching
 * `flags`). Other options and the payload are kept; the checksum is fixed.
 */
export function stripOptions(kinds: number[], options: StripOptions = {}): Middlebox {
  const drop = new Set(kinds);
  const mode = options.mode ?? 'remove';
  const need = options.flags ?? 0;
  return (pkt) => {
    const d = pkt.data;
    const h = headerLength(d);
    if (h <= 20 || (d[13]! & need) !== need) return pkt;
    const kept: number[] = [];
    const cut: [number, number][] = [];
    let o = 20;
    while (o < h) {
      const k = d[o]!;
      if (k === EOL) break;
      if (k === NOP) {
        kept.push(NOP);
        o++;
        continue;
      }
      const len = d[o + 1] ?? 0;
      if (len < 2 || o + len > h) return pkt; // malformed: leave it alone
      if (drop.has(k)) cut.push([o, len]);
      else for (let i = 0; i < len; i++) kept.push(d[o + i]!);
      o += len;
    }
    if (cut.length === 0) return pkt;
    let out: Uint8Array;
    if (mode === 'nop') {
      out = d.slice();
      for (const [at, len] of cut) out.fill(NOP, at, at + len);
    } else {
      // drop trailing NOPs that only padded what was removed, then pad to 4 with EOL
      while (kept.length > 0 && kept[kept.length - 1] === NOP) kept.pop();
      const optLen = (kept.length + 3) & ~3;
      const payload = d.subarray(h);
      out = new Uint8Array(20 + optLen + payload.length);
      out.set(d.subarray(0, 20), 0);
      out.set(kept, 20);
      out.set(payload, 20 + optLen);
      out[12] = (((20 + optLen) / 4) << 4) | (d[12]! & 0x0f);
    }
    return fixTcpChecksum({ src: pkt.src, dst: pkt.dst, data: out });
  };
}

/**
 * Rewrites the payload of segments that carry one: `fn` returns the new payload (any length;
 * sequence numbers are not adjusted) or null to leave the packet alone. The checksum is fixed.
 */
export function rewritePayload(
  fn: (payload: Uint8Array, pkt: Packet, ctx: MiddleboxContext) => Uint8Array | null,
): Middlebox {
  return (pkt, ctx) => {
    const d = pkt.data;
    const h = headerLength(d);
    if (h === 0 || h === d.length) return pkt;
    const np = fn(d.subarray(h), pkt, ctx);
    if (np === null) return pkt;
    const out = new Uint8Array(h + np.length);
    out.set(d.subarray(0, h), 0);
    out.set(np, h);
    return fixTcpChecksum({ src: pkt.src, dst: pkt.dst, data: out });
  };
}

/** Drops packets the predicate picks (a firewall rule). */
export function dropWhere(pred: (pkt: Packet, ctx: MiddleboxContext) => boolean): Middlebox {
  return (pkt, ctx) => (pred(pkt, ctx) ? null : pkt);
}

/** Runs middleboxes in order; a drop ends the chain. */
export function chain(...boxes: Middlebox[]): Middlebox {
  return (pkt, ctx) => {
    let p: Packet | null = pkt;
    for (const b of boxes) {
      p = b(p, ctx);
      if (p === null) return null;
    }
    return p;
  };
}
