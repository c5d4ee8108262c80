/**
 * The MPTCP layer (RFC 8684 v1) following the IETF 80 Linux design. Public API:
 *
 *   const core = new MptcpHost({ sysctl, addresses: ['10.0.0.1', '10.1.0.1'] }); // a NetCore
 *   core.report() / core.reportText()   // the state report (stack/report.ts)
 *   core.sysctl.set('net.mptcp.mptcp_scheduler', 'roundrobin')
 *   core.setBackup('10.1.0.1', true, now)
 *
 * Pieces: conn.ts (the multipath control block and its subflows), host.ts (the NetCore),
 * sendbuf.ts (shared send buffer, reinjection), reasm.ts (data-level reassembly), rxmap.ts (DSS
 * mappings and checksums), dsn.ts (64-bit data sequence numbers), keys.ts (keys, tokens),
 * mib.ts (counters). The path manager is stack/pm, the schedulers stack/sched, the coupled
 * congestion controls stack/cc/{lia,olia,balia}.ts.
 */
export { MptcpHost, type MptcpHostOptions } from './host';
export { MpConn, Subflow, DSS_RESERVE, type ConnState } from './conn';
export { Mib, MIB_NAMES, type MibName } from './mib';
export { TokenTable, type LocalKey } from './keys';
export { SharedSendBuffer } from './sendbuf';
export { DataReassembly } from './reasm';
export { RxMappings } from './rxmap';
export { dsnOf, offsetOf } from './dsn';
