/**
 * A pcap (libpcap classic format, microsecond timestamps) writer. Link types: raw IP (101) or
 * Ethernet (1). Any TCP segment, decoded or already encoded, is written as a real IPv4/IPv6 packet
 * with correct IP header and TCP checksums, so Wireshark and tshark read the capture as-is.
 *
 * Output goes to a sink: memory (`MemoryPcap`), a file (`PcapFile`, buffered, flushed on size and on
 * close), or any function taking chunks (e.g. `(c) => stream.write(c)`).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { IPPROTO_TCP } from './checksum';
import { IPV4_DF, encodeIPv4HeaderInto, encodeIPv6HeaderInto, ipBytes } from './ip';
import { encodeInto, encodedLength, setTcpChecksum } from './tcp';
import { EncodeError, type TcpSegment } from './types';

export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
const PCAP_MAGIC = 0xa1b2c3d4;

export type PcapSink = (chunk: Uint8Array) => void;

export interface PcapOptions {
  /** 'raw' (LINKTYPE_RAW, 101; the default) or 'ethernet' (1). */
  linktype?: 'raw' | 'ethernet';
  /** Longest captured length per packet; longer packets are truncated. Default 262144. */
  snaplen?: number;
}

export interface IpOptions {
  ttl?: number;
  /** IPv4 identification field. */
  id?: number;
  tos?: number;
}

/** The 24-byte pcap global header. */
export function pcapGlobalHeader(linktype: number, snaplen: number): Uint8Array {
  const b = new Uint8Array(24);
  const v = new DataView(b.buffer);
  v.setUint32(0, PCAP_MAGIC, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setInt32(8, 0, true); // thiszone
  v.setUint32(12, 0, true); // sigfigs
  v.setUint32(16, snaplen, true);
  v.setUint32(20, linktype, true);
  return b;
}

export class PcapWriter {
  readonly linktype: number;
  readonly snaplen: number;
  private count = 0;

  constructor(
    private readonly sink: PcapSink,
    options: PcapOptions = {},
  ) {
    this.linktype = options.linktype === 'ethernet' ? LINKTYPE_ETHERNET : LINKTYPE_RAW;
    this.snaplen = options.snaplen ?? 262144;
    if (!(this.snaplen > 0 && this.snaplen <= 0x7fffffff)) throw new RangeError('snaplen out of range');
    this.sink(pcapGlobalHeader(this.linktype, this.snaplen));
  }

  /** Packets written so far. */
  get packets(): number {
    return this.count;
  }

  /**
   * Writes one whole IPv4/IPv6 packet (as bytes) captured at `timeMs` (milliseconds since the Unix
   * epoch, or any origin; fractions keep microseconds).
   */
  writeIpPacket(timeMs: number, ip: Uint8Array): void {
    const eth = this.linktype === LINKTYPE_ETHERNET;
    const frameLen = ip.length + (eth ? 14 : 0);
    const incl = Math.min(frameLen, this.snaplen);
    const rec = new Uint8Array(16 + incl);
    this.recordHeader(rec, timeMs, incl, frameLen);
    if (eth) {
      const v = ip.length > 0 ? ip[0]! >> 4 : 4;
      const ethHdr = new Uint8Array(14);
      writeEthernet(ethHdr, 0, v === 6 ? 0x86dd : 0x0800, ip, v);
      rec.set(ethHdr.subarray(0, Math.min(14, incl)), 16);
      if (incl > 14) rec.set(ip.subarray(0, incl - 14), 30);
    } else {
      rec.set(ip.subarray(0, incl), 16);
    }
    this.sink(rec);
    this.count++;
  }

  /**
   * Writes a TCP segment between `src` and `dst` (text addresses, both IPv4 or both IPv6) as an IP
   * packet. A decoded segment is encoded with its checksum; encoded bytes are copied and their
   * checksum recomputed for the addresses.
   */
  writeSegment(
    timeMs: number,
    src: string,
    dst: string,
    seg: TcpSegment | Uint8Array,
    ip: IpOptions = {},
  ): void {
    const s = ipBytes(src);
    const d = ipBytes(dst);
    if (s.length !== d.length) throw new EncodeError('source and destination address families differ');
    const v6 = s.length === 16;
    const ipHl = v6 ? 40 : 20;
    const tcpLen = seg instanceof Uint8Array ? seg.length : encodedLength(seg);
    const pkt = new Uint8Array(ipHl + tcpLen);
    if (v6) {
      if (tcpLen > 0xffff) throw new EncodeError('IPv6 payload longer than 65535 bytes');
      encodeIPv6HeaderInto(pkt, 0, {
        version: 6,
        trafficClass: ip.tos ?? 0,
        flowLabel: 0,
        payloadLength: tcpLen,
        nextHeader: IPPROTO_TCP,
        hopLimit: ip.ttl ?? 64,
        src,
        dst,
      });
    } else {
      if (ipHl + tcpLen > 0xffff) throw new EncodeError('IPv4 packet longer than 65535 bytes');
      encodeIPv4HeaderInto(pkt, 0, {
        version: 4,
        tos: ip.tos ?? 0,
        totalLength: ipHl + tcpLen,
        id: ip.id ?? this.count & 0xffff,
        flags: IPV4_DF,
        fragmentOffset: 0,
        ttl: ip.ttl ?? 64,
        protocol: IPPROTO_TCP,
        checksum: 0,
        src,
        dst,
        options: new Uint8Array(0),
      });
    }
    if (seg instanceof Uint8Array) {
      pkt.set(seg, ipHl);
      if (tcpLen >= 20) setTcpChecksum(pkt, s, d, ipHl, tcpLen);
    } else {
      encodeInto(pkt, ipHl, seg, s, d);
    }
    this.writeIpPacket(timeMs, pkt);
  }

  private recordHeader(rec: Uint8Array, timeMs: number, incl: number, orig: number): void {
    const t = Number.isFinite(timeMs) && timeMs > 0 ? timeMs : 0;
    let sec = Math.floor(t / 1000);
    let usec = Math.round((t - sec * 1000) * 1000);
    if (usec >= 1_000_000) {
      sec += 1;
      usec -= 1_000_000;
    }
    const v = new DataView(rec.buffer, rec.byteOffset, 16);
    v.setUint32(0, sec >>> 0, true);
    v.setUint32(4, usec, true);
    v.setUint32(8, incl, true);
    v.setUint32(12, orig, true);
  }
}

/** Ethernet II header with locally administered MACs derived from the IP addresses (02:00:a:b:c:d). */
function writeEthernet(b: Uint8Array, o: number, ethertype: number, ip: Uint8Array, v: number): void {
  const srcOff = v === 6 ? 8 + 12 : 12; // last 4 bytes of the source address
  const dstOff = v === 6 ? 24 + 12 : 16;
  b[o] = 0x02;
  b[o + 1] = 0;
  b[o + 6] = 0x02;
  b[o + 7] = 0;
  for (let i = 0; i < 4; i++) {
    b[o + 2 + i] = ip[dstOff + i] ?? 0;
    b[o + 8 + i] = ip[srcOff + i] ?? 0;
  }
  b[o + 12] = ethertype >> 8;
  b[o + 13] = ethertype & 0xff;
}

/** A pcap held in memory. */
export class MemoryPcap extends PcapWriter {
  private readonly chunks: Uint8Array[];
  constructor(options: PcapOptions = {}) {
    const chunks: Uint8Array[] = [];
    super((c) => chunks.push(c), options);
    this.chunks = chunks;
  }
  /** The whole capture so far. */
  bytes(): Uint8Array {
    let n = 0;
    for (const c of this.chunks) n += c.length;
    const out = new Uint8Array(n);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

/**
 * A pcap streamed to a file (a path, opened and truncated here, or an open file descriptor):
 * records are buffered and written synchronously once 64 KiB gather, on flush() and on close(). A
 * crash loses at most the buffered records; the file stays readable. close() closes the file only
 * when it was opened here.
 */
export class PcapFile extends PcapWriter {
  private readonly state: { fd: number; pending: Uint8Array[]; size: number };
  private readonly owned: boolean;

  constructor(target: string | number, options: PcapOptions = {}) {
    const fd = typeof target === 'number' ? target : openSync(target, 'w');
    const state = { fd, pending: [] as Uint8Array[], size: 0 };
    super((c) => {
      if (state.fd < 0) throw new Error('pcap file is closed');
      state.pending.push(c);
      state.size += c.length;
      if (state.size >= 65536) flushState(state);
    }, options);
    this.state = state;
    this.owned = typeof target !== 'number';
  }

  flush(): void {
    if (this.state.fd >= 0) flushState(this.state);
  }

  close(): void {
    if (this.state.fd < 0) return;
    flushState(this.state);
    if (this.owned) closeSync(this.state.fd);
    this.state.fd = -1;
  }
}

function flushState(state: { fd: number; pending: Uint8Array[]; size: number }): void {
  for (const c of state.pending) {
    let off = 0;
    while (off < c.length) off += writeSync(state.fd, c, off, c.length - off);
  }
  state.pending = [];
  state.size = 0;
}
