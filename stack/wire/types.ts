/**
 * Decoded shapes of everything the stack puts on the wire: the TCP header and its options, and every
 * MPTCP v1 suboption (RFC 8684 §3). Codecs live beside this file (tcp.ts, mptcp.ts, ip.ts).
 *
 * Conventions: 32-bit sequence/ack numbers, ports, lengths and 16-bit checksums are plain numbers
 * (unsigned); 64-bit values (keys, 64-bit DSN / data ACK, truncated HMACs) are bigint.
 * Decoders are total: they return a value or a `ParseError`, never throw.
 */

/** TCP header flag bits (byte 13 of the header). */
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;

/** TCP option kinds (IANA). */
export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WSCALE = 3;
export const TCPOPT_SACK_PERMITTED = 4;
export const TCPOPT_SACK = 5;
export const TCPOPT_TIMESTAMPS = 8;
export const TCPOPT_MPTCP = 30;

/** Most option bytes a TCP header can carry (data offset 15 → 60 − 20). */
export const MAX_OPTION_SPACE = 40;
export const TCP_HEADER_MIN = 20;

export interface SackBlock {
  /** First sequence number of the block (u32). */
  left: number;
  /** Sequence number just past the block (u32). */
  right: number;
}

export type TcpOption =
  | { kind: 'mss'; mss: number }
  | { kind: 'wscale'; shift: number }
  | { kind: 'sackPermitted' }
  | { kind: 'sack'; blocks: SackBlock[] }
  | { kind: 'timestamps'; tsval: number; tsecr: number }
  | { kind: 'mptcp'; mp: MptcpOption }
  /**
   * Any other option kept verbatim: `type` is the option kind, `data` the bytes after kind and
   * length. An MPTCP option (kind 30) whose suboption is unknown or malformed also decodes to this,
   * so the engine can ignore it as RFC 8684 asks, rather than the whole segment being rejected.
   */
  | { kind: 'unknown'; type: number; data: Uint8Array };

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  /** u32 */
  seq: number;
  /** u32 */
  ack: number;
  /**
   * Header length in 32-bit words as found on decode (5..15). Ignored on encode: the encoder
   * computes it from the options.
   */
  dataOffset?: number;
  /** OR of FIN, SYN, RST, PSH, ACK, URG, ECE, CWR (plus NS, 0x100, if ever set). */
  flags: number;
  /** Raw 16-bit window field (unscaled). */
  window: number;
  /** As found on decode; computed by the encoder when IP addresses are given, else written as is. */
  checksum: number;
  urgent: number;
  options: TcpOption[];
  payload: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// MPTCP (RFC 8684 §3)

/** MPTCP suboption subtype numbers. */
export const MPTCP_SUB_CAPABLE = 0x0;
export const MPTCP_SUB_JOIN = 0x1;
export const MPTCP_SUB_DSS = 0x2;
export const MPTCP_SUB_ADD_ADDR = 0x3;
export const MPTCP_SUB_REMOVE_ADDR = 0x4;
export const MPTCP_SUB_PRIO = 0x5;
export const MPTCP_SUB_FAIL = 0x6;
export const MPTCP_SUB_FASTCLOSE = 0x7;
export const MPTCP_SUB_TCPRST = 0x8;

/** MP_CAPABLE flag bits (RFC 8684 §3.1). */
export const MPC_FLAG_A = 0x80; // checksum required
export const MPC_FLAG_B = 0x40; // extensibility
export const MPC_FLAG_C = 0x20; // do not establish additional subflows to this source address
export const MPC_FLAG_H = 0x01; // HMAC-SHA256

/**
 * MP_CAPABLE. The shape follows the length (RFC 8684 §3.1):
 * 4 = SYN (no key, v1); 12 = SYN/ACK (senderKey); 20 = third ACK (both keys);
 * 22 = first data ACK (both keys + dataLength); 24 = same with checksum.
 * The encoder picks the length from which fields are present.
 */
export interface MpCapable {
  subtype: 'MP_CAPABLE';
  /** 1 for RFC 8684. */
  version: number;
  /** A: checksum required. */
  a: boolean;
  /** B: extensibility. */
  b: boolean;
  /** C: do not establish additional subflows to the source address of this packet. */
  c: boolean;
  /** H: HMAC-SHA256 is the crypto algorithm (must be set in v1). */
  h: boolean;
  /**
   * The raw flags byte. On decode: as received. On encode: bits D..G (0x1e) are taken from it;
   * A, B, C, H always come from the booleans.
   */
  flags: number;
  senderKey?: bigint;
  receiverKey?: bigint;
  /** Data-level length (only with both keys). */
  dataLength?: number;
  /** DSS-style checksum (only with dataLength, when checksums are in use). */
  checksum?: number;
}

/** MP_JOIN on a SYN (length 12). */
export interface MpJoinSyn {
  subtype: 'MP_JOIN';
  form: 'syn';
  backup: boolean;
  addressId: number;
  /** Receiver's token, u32. */
  token: number;
  /** Sender's random number, u32. */
  nonce: number;
}

/** MP_JOIN on a SYN/ACK (length 16). */
export interface MpJoinSynAck {
  subtype: 'MP_JOIN';
  form: 'synack';
  backup: boolean;
  addressId: number;
  /** Leftmost 64 bits of the sender's HMAC. */
  truncatedHmac: bigint;
  /** Sender's random number, u32. */
  nonce: number;
}

/** MP_JOIN on the third ACK (length 24). */
export interface MpJoinAck {
  subtype: 'MP_JOIN';
  form: 'ack';
  /** Leftmost 160 bits (20 bytes) of the sender's HMAC. */
  hmac: Uint8Array;
}

export type MpJoin = MpJoinSyn | MpJoinSynAck | MpJoinAck;

/** DSS flag bits (low 5 bits of the 4th byte; RFC 8684 §3.3). */
export const DSS_FLAG_A = 0x01; // data ACK present
export const DSS_FLAG_a = 0x02; // data ACK is 8 octets
export const DSS_FLAG_M = 0x04; // mapping (DSN, SSN, length, checksum) present
export const DSS_FLAG_m = 0x08; // DSN is 8 octets
export const DSS_FLAG_F = 0x10; // DATA_FIN

export interface DssMapping {
  /** Data sequence number; a 4-byte DSN is carried as its low 32 bits (dsn8 = false). */
  dsn: bigint;
  dsn8: boolean;
  /** Relative subflow sequence number, u32. */
  ssn: number;
  /** Data-level length, u16. */
  length: number;
  /** Present iff DSS checksums were negotiated. */
  checksum?: number;
}

export interface Dss {
  subtype: 'DSS';
  /** Data ACK; absent when flag A is clear. A 4-byte data ACK is carried as its low 32 bits. */
  dataAck?: bigint;
  /** Data ACK is 8 octets (flag a). Meaningful only with dataAck. */
  dataAck8: boolean;
  mapping?: DssMapping;
  /** DATA_FIN (flag F). */
  dataFin: boolean;
}

/**
 * ADD_ADDR (RFC 8684 §3.4.1). Lengths: IPv4 8/10 (echo, no port/port), 16/18 (with HMAC);
 * IPv6 20/22 and 28/30. `hmac` is present iff echo is false.
 */
export interface AddAddr {
  subtype: 'ADD_ADDR';
  /** E flag: this is an echo of a received ADD_ADDR (no HMAC). */
  echo: boolean;
  addressId: number;
  /** Textual IPv4 (dotted quad) or IPv6 (RFC 5952 compressed form). */
  address: string;
  port?: number;
  /** Truncated (rightmost 64 bits of the) HMAC; absent on echo. */
  hmac?: bigint;
}

export interface RemoveAddr {
  subtype: 'REMOVE_ADDR';
  /** At least one id. */
  addressIds: number[];
}

/** MP_PRIO: length 3, or 4 with the (RFC 6824) address id. */
export interface MpPrio {
  subtype: 'MP_PRIO';
  backup: boolean;
  addressId?: number;
}

export interface MpFail {
  subtype: 'MP_FAIL';
  dsn: bigint;
}

export interface MpFastclose {
  subtype: 'MP_FASTCLOSE';
  receiverKey: bigint;
}

/** MP_TCPRST reason codes (RFC 8684 §3.6). */
export const TCPRST_UNSPECIFIED = 0x00;
export const TCPRST_MPTCP_ERROR = 0x01;
export const TCPRST_LACK_OF_RESOURCES = 0x02;
export const TCPRST_ADMIN_PROHIBITED = 0x03;
export const TCPRST_TOO_MUCH_OUTSTANDING = 0x04;
export const TCPRST_UNACCEPTABLE_PERFORMANCE = 0x05;
export const TCPRST_MIDDLEBOX_INTERFERENCE = 0x06;

export interface MpTcpRst {
  subtype: 'MP_TCPRST';
  /** Flags in the low 4 bits of the 3rd byte: U=0x8, V=0x4, W=0x2 (unassigned), T=0x1. */
  u: boolean;
  v: boolean;
  w: boolean;
  /** T: transient error (the sender may retry later). */
  t: boolean;
  reason: number;
}

export type MptcpOption =
  | MpCapable
  | MpJoin
  | Dss
  | AddAddr
  | RemoveAddr
  | MpPrio
  | MpFail
  | MpFastclose
  | MpTcpRst;

// ---------------------------------------------------------------------------------------------
// Errors

/** What every decoder returns instead of throwing. */
export class ParseError {
  readonly ok = false;
  constructor(
    /** Short machine-readable code, e.g. 'truncated', 'bad-length', 'bad-version'. */
    readonly code: string,
    readonly message: string,
    /** Byte offset in the input where the problem was found, when known. */
    readonly offset = -1,
  ) {}
  toString(): string {
    return `ParseError(${this.code}${this.offset >= 0 ? ` @${this.offset}` : ''}): ${this.message}`;
  }
}

export function isParseError(x: unknown): x is ParseError {
  return x instanceof ParseError;
}

/** Thrown by encoders only: the value cannot be encoded (e.g. options exceed 40 bytes). */
export class EncodeError extends Error {
  override name = 'EncodeError';
}
