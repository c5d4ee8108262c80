/**
 * The state report of a `stack: kernel` node: what the kernel's MPTCP knows, from `ss -Mni` (MPTCP
 * sockets: subflow counts, token, data-level sequence numbers), `ss -tni` (each TCP subflow with
 * tcp-ulp-mptcp: its token pair, flags, RTT, cwnd, bytes), `ip mptcp endpoint` / `limits` and the
 * net.mptcp sysctls. Parsers are pure (tested on captured output); `kernelReport` runs the commands
 * in the node through the lab.
 */
import type { Lab } from '../lab';

export interface KernelMptcpSocket {
  state: string;
  local: string;
  peer: string;
  /** The connection's local token (hex, as ss prints it). */
  token?: string;
  subflows: number;
  subflowsMax?: number;
  addAddrSignal: number;
  addAddrAccepted: number;
  addAddrAcceptedMax?: number;
  /** Data-level sequence numbers (hex strings, 64-bit). */
  writeSeq?: string;
  sndUna?: string;
  rcvNxt?: string;
  /** Bare flags ss prints (remote_key, fallback, ...). */
  flags: string[];
}

export interface KernelSubflow {
  state: string;
  local: string;
  peer: string;
  /** Interface the subflow is bound to (ss prints addr%dev). */
  dev?: string;
  /** The MPTCP connection's token (the second of ss' token pair). */
  token?: string;
  /** The subflow's local address id, and the peer's. */
  localId?: number;
  remoteId?: number;
  /** ss' subflow flags: M/m MP_CAPABLE sent/received, J/j MP_JOIN, e established, c connected. */
  flags?: string;
  join: boolean;
  rttMs?: number;
  cwnd?: number;
  mss?: number;
  bytesSent: number;
  bytesAcked: number;
  bytesReceived: number;
  bytesRetrans: number;
}

export interface KernelEndpoint {
  address: string;
  id: number;
  dev?: string;
  port?: number;
  flags: string[];
}

export interface KernelNodeReport {
  node: string;
  connections: (KernelMptcpSocket & { subflowList: KernelSubflow[] })[];
  /** Subflows whose connection was not listed (e.g. closing). */
  orphanSubflows: KernelSubflow[];
  endpoints: KernelEndpoint[];
  limits: { subflows?: number; addAddrAccepted?: number };
  sysctl: Record<string, string>;
}

/** Splits ss -H output into [state line, info line] pairs. */
function ssEntries(text: string): { cols: string[]; info: string }[] {
  const out: { cols: string[]; info: string }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.trim() || /^\s/.test(line)) continue;
    const next = lines[i + 1];
    const info = next !== undefined && /^\s/.test(next) ? next.trim() : '';
    out.push({ cols: line.trim().split(/\s+/), info });
  }
  return out;
}

/** "10.0.0.1%eth1:5201" / "[fd00::1]:80" → address:port and the device. */
function endpointOf(s: string): { addr: string; dev?: string } {
  const m = /^(.*?)(?:%([^:\]]+))?(:\d+|:\*)$/.exec(s);
  if (!m) return { addr: s };
  const host = (m[1] as string).replace(/^\[|\]$/g, '');
  const plain = host.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
  const port = m[3] as string;
  const addr = plain.includes(':') ? `[${plain}]${port}` : `${plain}${port}`;
  return m[2] ? { addr, dev: m[2] } : { addr };
}

function kv(info: string): { values: Map<string, string>; bare: string[] } {
  const values = new Map<string, string>();
  const bare: string[] = [];
  for (const tok of info.split(/\s+/)) {
    if (!tok) continue;
    const i = tok.indexOf(':');
    if (i <= 0) bare.push(tok);
    else values.set(tok.slice(0, i), tok.slice(i + 1));
  }
  return { values, bare };
}

const int = (v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
};

/** Parses `ss -MniH` (MPTCP sockets with their mptcp_info). */
export function parseSsMptcp(text: string): KernelMptcpSocket[] {
  return ssEntries(text).flatMap(({ cols, info }) => {
    if (cols.length < 5) return [];
    const { values, bare } = kv(info);
    const s: KernelMptcpSocket = {
      state: cols[0]!,
      local: endpointOf(cols[3]!).addr,
      peer: endpointOf(cols[4]!).addr,
      subflows: int(values.get('subflows')) ?? 0,
      addAddrSignal: int(values.get('add_addr_signal')) ?? 0,
      addAddrAccepted: int(values.get('add_addr_accepted')) ?? 0,
      flags: bare.filter((b) => /^[a-z_]+$/.test(b)),
    };
    const opt = {
      token: values.get('token'),
      subflowsMax: int(values.get('subflows_max')),
      addAddrAcceptedMax: int(values.get('add_addr_accepted_max')),
      writeSeq: values.get('write_seq'),
      sndUna: values.get('snd_una'),
      rcvNxt: values.get('rcv_nxt'),
    };
    for (const [k, v] of Object.entries(opt))
      if (v !== undefined) (s as unknown as Record<string, unknown>)[k] = v;
    return [s];
  });
}

/** Parses `ss -tniH`, keeping only MPTCP subflows (tcp-ulp-mptcp). */
export function parseSsSubflows(text: string): KernelSubflow[] {
  return ssEntries(text).flatMap(({ cols, info }) => {
    if (cols.length < 5 || !/\btcp-ulp-mptcp\b/.test(info)) return [];
    const { values } = kv(info);
    const local = endpointOf(cols[3]!);
    const sf: KernelSubflow = {
      state: cols[0]!,
      local: local.addr,
      peer: endpointOf(cols[4]!).addr,
      join: false,
      bytesSent: int(values.get('bytes_sent')) ?? 0,
      bytesAcked: int(values.get('bytes_acked')) ?? 0,
      bytesReceived: int(values.get('bytes_received')) ?? 0,
      bytesRetrans: int(values.get('bytes_retrans')) ?? 0,
    };
    if (local.dev) sf.dev = local.dev;
    // token:<remote>(id:<remote id>)/<local>(id:<local id>)
    const tok = /(?:^|\s)token:([0-9a-f]+)\(id:(\d+)\)\/([0-9a-f]+)\(id:(\d+)\)/.exec(info);
    if (tok) {
      sf.token = tok[3]!;
      sf.remoteId = Number(tok[2]);
      sf.localId = Number(tok[4]);
    }
    const flags = values.get('flags');
    if (flags !== undefined) {
      sf.flags = flags;
      sf.join = /[Jj]/.test(flags);
    }
    const rtt = /(?:^|\s)rtt:(\d+(?:\.\d+)?)\//.exec(info);
    if (rtt) sf.rttMs = Number(rtt[1]);
    const cwnd = int(values.get('cwnd'));
    if (cwnd !== undefined) sf.cwnd = cwnd;
    const mss = int(values.get('mss'));
    if (mss !== undefined) sf.mss = mss;
    return [sf];
  });
}

/** Parses `ip -j mptcp endpoint show`. */
export function parseEndpoints(json: string): KernelEndpoint[] {
  const t = json.trim();
  if (!t) return [];
  const known = new Set(['signal', 'subflow', 'backup', 'fullmesh', 'implicit', 'laminar']);
  return (JSON.parse(t) as Record<string, unknown>[]).map((e) => {
    const ep: KernelEndpoint = {
      address: String(e.address),
      id: Number(e.id),
      flags: Object.keys(e).filter((k) => known.has(k) && e[k] === true),
    };
    if (typeof e.dev === 'string') ep.dev = e.dev;
    if (typeof e.port === 'number') ep.port = e.port;
    // Older iproute2 prints flags as an array.
    if (Array.isArray(e.flags)) for (const f of e.flags) if (typeof f === 'string') ep.flags.push(f);
    return ep;
  });
}

/** Parses `ip mptcp limits show` ("add_addr_accepted 4 subflows 4"). */
export function parseLimits(text: string): { subflows?: number; addAddrAccepted?: number } {
  const out: { subflows?: number; addAddrAccepted?: number } = {};
  const s = /\bsubflows (\d+)/.exec(text);
  const a = /\badd_addr_accepted (\d+)/.exec(text);
  if (s) out.subflows = Number(s[1]);
  if (a) out.addAddrAccepted = Number(a[1]);
  return out;
}

/** Parses `sysctl net.mptcp` ("name = value" lines). */
export function parseSysctl(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s*=\s*(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Puts the pieces together: each MPTCP connection with its subflows (matched by token). */
export function buildKernelReport(
  node: string,
  raw: { ssMptcp: string; ssTcp: string; endpoints: string; limits: string; sysctl: string },
): KernelNodeReport {
  const socks = parseSsMptcp(raw.ssMptcp);
  const subflows = parseSsSubflows(raw.ssTcp);
  const used = new Set<KernelSubflow>();
  const connections = socks.map((s) => {
    const mine = subflows.filter((sf) => s.token !== undefined && sf.token === s.token);
    for (const sf of mine) used.add(sf);
    return { ...s, subflowList: mine };
  });
  return {
    node,
    connections,
    orphanSubflows: subflows.filter((sf) => !used.has(sf)),
    endpoints: parseEndpoints(raw.endpoints),
    limits: parseLimits(raw.limits),
    sysctl: parseSysctl(raw.sysctl),
  };
}

/** Runs the commands in a kernel node of `lab` and builds its report. */
export async function kernelReport(lab: Lab, node: string): Promise<KernelNodeReport> {
  const run = async (argv: string[]): Promise<string> => {
    const r = await lab.exec(node, argv, { timeoutMs: 10_000 });
    return r.code === 0 ? r.stdout : '';
  };
  const [ssMptcp, ssTcp, endpoints, limits, sysctl] = await Promise.all([
    run(['ss', '-MniH']),
    run(['ss', '-tniH']),
    run(['ip', '-j', 'mptcp', 'endpoint', 'show']),
    run(['ip', 'mptcp', 'limits', 'show']),
    run(['sysctl', 'net.mptcp']),
  ]);
  return buildKernelReport(node, { ssMptcp, ssTcp, endpoints, limits, sysctl });
}

/** The report as text, in the spirit of the stack's own report. */
export function formatKernelReport(r: KernelNodeReport): string {
  const out: string[] = [];
  const sc = r.sysctl;
  out.push(
    `node ${r.node} (stack: kernel) — net.mptcp.enabled=${sc['net.mptcp.enabled'] ?? '?'} checksum_enabled=${sc['net.mptcp.checksum_enabled'] ?? '?'} path_manager=${sc['net.mptcp.path_manager'] ?? sc['net.mptcp.pm_type'] ?? '?'} scheduler=${sc['net.mptcp.scheduler'] ?? '?'}`,
  );
  out.push(
    `limits: subflows ${r.limits.subflows ?? '?'}, add_addr_accepted ${r.limits.addAddrAccepted ?? '?'}`,
  );
  if (r.endpoints.length === 0) out.push('endpoints: none');
  else {
    out.push('endpoints:');
    for (const e of r.endpoints)
      out.push(
        `  id ${e.id}  ${e.address}${e.port ? ` port ${e.port}` : ''}${e.dev ? ` dev ${e.dev}` : ''}  ${e.flags.join(' ') || '-'}`,
      );
  }
  if (r.connections.length === 0) out.push('connections: none');
  for (const c of r.connections) {
    out.push(
      `connection ${c.local} -> ${c.peer} ${c.state} token ${c.token ?? '?'}  subflows ${c.subflows}/${c.subflowsMax ?? '?'}  add_addr signal ${c.addAddrSignal} accepted ${c.addAddrAccepted}/${c.addAddrAcceptedMax ?? '?'}${c.flags.length ? `  ${c.flags.join(' ')}` : ''}`,
    );
    if (c.writeSeq || c.sndUna || c.rcvNxt)
      out.push(
        `  data seq: write ${c.writeSeq ?? '?'}  snd_una ${c.sndUna ?? '?'}  rcv_nxt ${c.rcvNxt ?? '?'}`,
      );
    for (const sf of c.subflowList) out.push(`  ${subflowLine(sf)}`);
  }
  if (r.orphanSubflows.length > 0) {
    out.push('subflows without a listed connection:');
    for (const sf of r.orphanSubflows) out.push(`  ${subflowLine(sf)}`);
  }
  return out.join('\n');
}

function subflowLine(sf: KernelSubflow): string {
  const kind = sf.join ? 'join' : 'master';
  const rtt = sf.rttMs !== undefined ? `rtt ${sf.rttMs} ms` : 'rtt ?';
  return `${kind.padEnd(6)} ${sf.local}${sf.dev ? `%${sf.dev}` : ''} -> ${sf.peer} ${sf.state} ids ${sf.localId ?? '?'}/${sf.remoteId ?? '?'} flags ${sf.flags ?? '?'}  ${rtt}  cwnd ${sf.cwnd ?? '?'}  sent ${sf.bytesSent} acked ${sf.bytesAcked} rcvd ${sf.bytesReceived} retrans ${sf.bytesRetrans}`;
}
