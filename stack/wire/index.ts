/** The stack's wire layer: codecs, checksums, crypto and the pcap writer. */
export * from './checksum';
export * from './crypto';
export * from './ip';
export * from './mptcp';
export * from './pcap';
export * from './tcp';
export * from './types';
