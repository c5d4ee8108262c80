/**
 * Text view of a node's state report: connections, subflows, and the path manager's mapping table
 * as the design shows it (token | path index | endpoint id <src addr, dst addr, src port, dst port>).
 * The mapping rows come from the stack's own report (AgentReport.stack) when it carries them; else
 * they are derived from the connections' subflows (the token is then unknown and shown as `conn N`).
 */
import type { AgentReport } from '../stack/agent/protocol';
import { type CoreReport, formatCoreReport } from '../stack/report';

export interface MappingRow {
  token: string;
  pathIndex: number;
  endpoint: string;
  state?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function fromRow(r: Obj): MappingRow | undefined {
  const ep = isObj(r.endpoint) ? r.endpoint : r;
  const token = r.token;
  if ((typeof token !== 'number' && typeof token !== 'string') || typeof r.pathIndex !== 'number')
    return undefined;
  if (typeof ep.srcAddr !== 'string' || typeof ep.dstAddr !== 'string') return undefined;
  const row: MappingRow = {
    token: typeof token === 'number' ? `0x${token.toString(16).padStart(8, '0')}` : token,
    pathIndex: r.pathIndex,
    endpoint: `<${ep.srcAddr}, ${ep.dstAddr}, ${String(ep.srcPort ?? 0)}, ${String(ep.dstPort ?? 0)}>`,
  };
  if (typeof r.state === 'string') row.state = r.state;
  return row;
}

/** Finds mapping rows anywhere in the stack's report (depth-limited walk). */
function findRows(v: unknown, depth: number, out: MappingRow[]): void {
  if (depth > 5) return;
  if (Array.isArray(v)) {
    for (const x of v) {
      const row = isObj(x) ? fromRow(x) : undefined;
      if (row) out.push(row);
      else findRows(x, depth + 1, out);
    }
  } else if (isObj(v)) {
    for (const x of Object.values(v)) findRows(x, depth + 1, out);
  }
}

export function mappingRows(report: AgentReport): MappingRow[] {
  const out: MappingRow[] = [];
  if (report.stack !== undefined) findRows(report.stack, 0, out);
  if (out.length > 0) return out;
  for (const c of report.connections) {
    for (const s of c.subflows) {
      out.push({
        token: `conn ${c.conn}`,
        pathIndex: s.pathIndex,
        endpoint: `<${s.local.address}, ${s.remote.address}, ${s.local.port}, ${s.remote.port}>`,
        state: s.state,
      });
    }
  }
  return out;
}

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i] ?? 0)).join(' | ')} |`;
  return [line(head), `| ${w.map((n) => '-'.repeat(n)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

function isCoreReport(v: unknown): v is CoreReport {
  return (
    isObj(v) && Array.isArray(v.connections) && Array.isArray(v.mappingTable) && typeof v.now === 'number'
  );
}

/** The report of one node as text: the agent's view, then the stack's own text view when present. */
export function formatReport(node: string, r: AgentReport): string {
  const out: string[] = [];
  if (isCoreReport(r.stack)) {
    out.push(
      `node ${node}: ${r.core} core, up ${r.uptime.toFixed(1)} s, udp port ${r.udpPort}, phy in ${r.phy.datagramsIn} / out ${r.phy.datagramsOut} datagrams, garbage ${r.phy.garbageDropped}`,
    );
    out.push(formatCoreReport(r.stack).trimEnd());
    return out.join('\n');
  }
  out.push(
    `node ${node}: ${r.core} core, up ${r.uptime.toFixed(1)} s, addresses ${r.addresses.join(', ') || '-'}, udp port ${r.udpPort}`,
  );
  out.push(
    `  phy: in ${r.phy.datagramsIn} dgrams / ${r.phy.bytesIn} B, out ${r.phy.datagramsOut} dgrams / ${r.phy.bytesOut} B, garbage ${r.phy.garbageDropped}, send errors ${r.phy.sendErrors}`,
  );
  out.push(`  connections: ${r.connections.length}`);
  for (const c of r.connections) {
    out.push(
      `  conn ${c.conn} ${c.mode} ${c.state}: delivered ${c.bytesDelivered} B, received ${c.bytesReceived} B, ${c.subflows.length} subflow(s)`,
    );
    for (const s of c.subflows) {
      out.push(
        `    #${s.pathIndex} ${s.local.address}:${s.local.port} -> ${s.remote.address}:${s.remote.port} ${s.state} cwnd ${s.cwnd} srtt ${s.srttMs.toFixed(1)} ms sent ${s.bytesSent} acked ${s.bytesAcked} rcvd ${s.bytesReceived} rexmit ${s.retransmits}`,
      );
    }
  }
  const rows = mappingRows(r);
  out.push('  mapping table:');
  if (rows.length === 0) out.push('    (empty: no multipath connection)');
  else
    out.push(
      table(
        ['token', 'path index', 'endpoint id <src addr, dst addr, src port, dst port>', 'state'],
        rows.map((m) => [m.token, String(m.pathIndex), m.endpoint, m.state ?? '']),
      )
        .split('\n')
        .map((l) => `    ${l}`)
        .join('\n'),
    );
  return out.join('\n');
}
