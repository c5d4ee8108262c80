/**
 * MIB counters of the MPTCP layer (names after Linux's MPTcpExt where one exists).
 */
export const MIB_NAMES = [
  'MPCapableSYNTX',
  'MPCapableSYNRX',
  'MPCapableSYNACKRX',
  'MPCapableACKRX',
  'MPCapableFallbackACK',
  'MPCapableFallbackSYNACK',
  'MPCapableDisabled',
  'MPTCPRetrans',
  'MPJoinSynTx',
  'MPJoinSynRx',
  'MPJoinSynAckRx',
  'MPJoinAckRx',
  'MPJoinAccepted',
  'MPJoinRefused',
  'MPJoinNoTokenFound',
  'MPJoinSynAckHMacFailure',
  'MPJoinAckHMacFailure',
  'DSSNotMatching',
  'DSSNoMatchTCP',
  'DataCsumErr',
  'OFOQueue',
  'DuplicateData',
  'AddAddr',
  'AddAddrTx',
  'AddAddrBadHmac',
  'AddAddrTxDrop',
  'EchoAdd',
  'RmAddr',
  'RmAddrTx',
  'RmSubflow',
  'MPPrioTx',
  'MPPrioRx',
  'MPFailTx',
  'MPFailRx',
  'MPFastcloseTx',
  'MPFastcloseRx',
  'MPRstTx',
  'MPRstRx',
  'Fallbacks',
  'InfiniteMapTx',
  'InfiniteMapRx',
  'Reinjections',
  'OpportunisticRetrans',
  'OpportunisticRetransBytes',
  'Penalizations',
  'HoleReinjections',
  'HoleReinjectedBytes',
  'SlowQueueHeld',
  'BlestSkipped',
  'SubflowUnreachable',
  'MPJoinUnreachable',
  'ReinjectedBytes',
  'SubflowsOpened',
  'SubflowsClosed',
  'DataFinTx',
  'DataFinRx',
  'TokenCollisions',
] as const;

export type MibName = (typeof MIB_NAMES)[number];

export class Mib {
  readonly counters: Record<MibName, number>;
  constructor() {
    this.counters = Object.fromEntries(MIB_NAMES.map((n) => [n, 0])) as Record<MibName, number>;
  }
  inc(name: MibName, by = 1): void {
    this.counters[name] += by;
  }
  get(name: MibName): number {
    return this.counters[name];
  }
  snapshot(): Record<MibName, number> {
    return { ...this.counters };
  }
}
