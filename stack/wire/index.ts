/**
 * The stack's wire layer: every format the stack puts on the wire.
 *
 * - types.ts     decoded shapes: TcpSegment, TcpOption, MptcpOption (every RFC 8684 suboption),
 *                flag and reason-code constants, ParseError (what decoders return), EncodeError
 *                (what encoders throw).
 * - tcp.ts       encodeSegment / encodeInto (reuse a buffer) / encodeHeaderInto (payload sent
 *                separately), decodeSegment, optionsLength (check the 40-byte option space before
 *                building a segment), setTcpChecksum, verifySegmentChecksum. Options are laid out
 *                byte for byte as Linux does (checked against the kernel's MPTCP).
 * - mptcp.ts     encodeMptcpOption(Into), decodeMptcpOption, mptcpOptionLength.
 * - ip.ts        IPv4/IPv6 headers (buildIpPacket, decodeIpPacket), address text <-> bytes.
 * - checksum.ts  Internet checksum, TCP pseudo-header checksum, DSS checksum.
 * - crypto.ts    generateKey, tokenOf, idsnOf, joinSynAckHmac, joinAckHmac, addAddrHmac.
 * - pcap.ts      PcapWriter, MemoryPcap, PcapFile (raw IP or Ethernet link type).
 *
 * Decoders never throw: they return a value or a ParseError. Decoded payloads and unknown-option
 * data are views onto the input bytes (copy them if the input buffer is reused). 32-bit values are
 * numbers, 64-bit values (keys, 64-bit DSN and data ACK, truncated HMACs) are bigints.
 */
export * from './checksum';
export * from './crypto';
export * from './ip';
export * from './mptcp';
export * from './pcap';
export * from './tcp';
export * from './types';
