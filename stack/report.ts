/**
 * The state report (the design's "report on internal state"): every connection with its tokens
 * (never the keys), state, data-level sequence numbers and subflows; the path manager's mapping
 * table; the MIB counters. `MptcpHost.report()` builds it; `formatCoreReport` prints the text view with
 * the mapping table as the design shows it (token | path index | endpoint_id).
 */
import type { SubflowStats } from './core/contract';

export interface EndpointReport {
  srcAddr: string;
  dstAddr: string;
  srcPort: number;
  dstPort: number;
}

export interface SubflowReport extends SubflowStats {
  /** The endpoint id of the design: <src addr, dst addr, src port, dst port>. */
  endpoint: EndpointReport;
  /** Address ids (ours as announced, the peer's). */
  localId: number;
  remoteId: number;
  backup: boolean;
  /** Times data first sent here was sent again on another subflow, and those bytes. */
  reinjections: number;
  reinjectedBytes: number;
  /** Why it ended (when it did). */
  closeReason?: string;
}

export interface ConnReport {
  conn: number;
  mode: 'mptcp' | 'tcp';
  state: string;
  role: 'client' | 'server';
  /** 8 hex digits; absent for plain TCP. */
  localToken?: string;
  remoteToken?: string;
  /** Why the connection fell back to plain TCP. */
  fallback?: string;
  checksum: boolean;
  /** Data-level sequence numbers (64-bit, decimal strings) and the peer's window. */
  data?: { sndUna: string; sndNxt: string; rcvNxt: string; sndWnd: number; rcvWnd: number };
  bytesDelivered: number;
  bytesReceived: number;
  scheduler: string;
  cc: string;
  subflows: SubflowReport[];
}

export interface CoreMappingRow {
  token: string;
  pathIndex: number;
  endpoint: EndpointReport;
  state: string;
  backup: boolean;
}

export interface CoreReport {
  /** Time of the snapshot (the core's clock, ms). */
  now: number;
  addresses: string[];
  connections: ConnReport[];
  mappingTable: CoreMappingRow[];
  mib: Record<string, number>;
  sysctl?: Record<string, number | string>;
}

export function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

export function formatEndpointId(e: EndpointReport): string {
  return `<${e.srcAddr}, ${e.dstAddr}, ${e.srcPort}, ${e.dstPort}>`;
}

function table(head: string[], rows: string[][], sep = '  '): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(w[i]!))
      .join(sep)
      .trimEnd();
  return [line(head), ...rows.map(line)];
}

/** The text view. */
export function formatCoreReport(r: CoreReport): string {
  const out: string[] = [];
  out.push(`MPTCP state at t=${r.now.toFixed(3)} ms — addresses: ${r.addresses.join(', ') || '(none)'}`);
  out.push('');
  if (r.connections.length === 0) out.push('no connections');
  for (const c of r.connections) {
    const tokens =
      c.mode === 'mptcp' || c.localToken
        ? `  local token ${c.localToken ?? '-'}  remote token ${c.remoteToken ?? '-'}`
        : '';
    out.push(`conn ${c.conn}  ${c.mode}  ${c.role}  ${c.state}${tokens}`);
    if (c.fallback) out.push(`  fallback: ${c.fallback}`);
    if (c.data) {
      out.push(
        `  data: snd_una ${c.data.sndUna}  snd_nxt ${c.data.sndNxt}  rcv_nxt ${c.data.rcvNxt}  ` +
          `snd_wnd ${c.data.sndWnd}  rcv_wnd ${c.data.rcvWnd}`,
      );
    }
    out.push(
      `  delivered ${c.bytesDelivered}  received ${c.bytesReceived}  scheduler ${c.scheduler}  cc ${c.cc}` +
        `  checksum ${c.checksum ? 'on' : 'off'}`,
    );
    const rows = c.subflows.map((s) => [
      String(s.pathIndex),
      formatEndpointId(s.endpoint),
      s.state + (s.backup ? ' (backup)' : ''),
      String(s.mss),
      String(s.cwnd),
      s.ssthresh >= Number.MAX_SAFE_INTEGER ? 'inf' : String(s.ssthresh),
      s.srttMs.toFixed(1),
      s.rttvarMs.toFixed(1),
      String(s.bytesSent),
      String(s.bytesAcked),
      String(s.bytesReceived),
      String(s.retransmits),
      String(s.reinjections),
    ]);
    for (const l of table(
      [
        'path',
        'endpoint_id',
        'state',
        'mss',
        'cwnd',
        'ssthresh',
        'srtt',
        'rttvar',
        'sent',
        'acked',
        'recv',
        'retx',
        'reinj',
      ],
      rows,
    ))
      out.push(`  ${l}`);
    out.push('');
  }
  out.push('Mapping table');
  const mt = table(
    ['token', 'path index', 'endpoint_id'],
    r.mappingTable.map((m) => [m.token, String(m.pathIndex), formatEndpointId(m.endpoint)]),
    ' | ',
  );
  for (const l of mt) out.push(l);
  out.push('');
  out.push('MIB');
  const nonzero = Object.entries(r.mib).filter(([, v]) => v !== 0);
  if (nonzero.length === 0) out.push('  (all zero)');
  for (const [k, v] of nonzero) out.push(`  ${k.padEnd(28)} ${v}`);
  return `${out.join('\n')}\n`;
}

/** The JSON view (stable key order, bigint-free). */
export function reportToJSON(r: CoreReport): string {
  return JSON.stringify(r, null, 2);
}
