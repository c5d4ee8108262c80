/**
 * Traces: per-connection time series sampled from `core.connStats()` every N ms of virtual time,
 * and an optional packet trace. Both serialize deterministically (JSON and CSV): same seed and
 * inputs, same bytes.
 */
import type { ConnStats, Packet } from '../core/contract';
import type { Host, Simulator } from './sim';

/** Time rounded to the nanosecond for output, so float noise never reaches the text. */
function fmtTime(t: number): number {
  return Math.round(t * 1e6) / 1e6;
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
  return String(v);
}

// ---- packet trace ----

export type PacketEvent = 'enq' | 'rx' | 'queue' | 'random' | 'burst' | 'down' | 'middlebox' | 'mtu';

export interface PacketRecord {
  t: number;
  link: string;
  dir: 'ab' | 'ba';
  /** enq: handed to the link; rx: arrived at the far end; otherwise the drop cause. */
  event: PacketEvent;
  /** Wire bytes. */
  size: number;
  src: string;
  dst: string;
  /** TCP sequence number and flags byte when the data holds a TCP header, else -1. */
  seq: number;
  flags: number;
}

export class PacketTrace {
  readonly records: PacketRecord[] = [];
  /** Records not kept because the limit was reached. */
  overflow = 0;

  constructor(readonly limit: number) {}

  add(t: number, link: string, dir: 'ab' | 'ba', event: PacketEvent, size: number, pkt: Packet): void {
    if (this.records.length >= this.limit) {
      this.overflow++;
      return;
    }
    const d = pkt.data;
    const tcp = d.length >= 20;
    const seq = tcp ? ((d[4]! << 24) | (d[5]! << 16) | (d[6]! << 8) | d[7]!) >>> 0 : -1;
    const flags = tcp ? d[13]! : -1;
    this.records.push({ t, link, dir, event, size, src: pkt.src, dst: pkt.dst, seq, flags });
  }

  toJSON(): { records: PacketRecord[]; overflow: number } {
    return { records: this.records.map((r) => ({ ...r, t: fmtTime(r.t) })), overflow: this.overflow };
  }

  toCSV(): string {
    const lines = ['t,link,dir,event,size,src,dst,seq,flags'];
    for (const r of this.records) {
      lines.push(
        [fmtTime(r.t), r.link, r.dir, r.event, r.size, r.src, r.dst, r.seq, r.flags].map(csvCell).join(','),
      );
    }
    return `${lines.join('\n')}\n`;
  }
}

// ---- connection trace ----

/** The columns of a connection trace, in order. Subflow fields are null on a row with path 0. */
export const TRACE_COLUMNS = [
  't',
  'host',
  'conn',
  'mode',
  'state',
  'path',
  'local',
  'remote',
  'subflowState',
  'mss',
  'cwnd',
  'ssthresh',
  'srttMs',
  'rttvarMs',
  'inflight',
  'bytesSent',
  'bytesAcked',
  'bytesReceived',
  'retransmits',
  'delivered',
  'received',
] as const;

export type TraceColumn = (typeof TRACE_COLUMNS)[number];
export type TraceRow = (string | number | null)[];

export interface ConnTraceOptions {
  /** Sampling period in virtual ms (default 10). */
  everyMs?: number;
  /** Hosts to sample (default: every host of the simulator, including ones added later). */
  hosts?: Host[];
  /** First sample time (default now). */
  start?: number;
}

/**
 * Samples every connection of the chosen hosts every `everyMs`: one row per subflow (path =
 * pathIndex), or one row with path 0 when the connection reports no subflow. Connection-level
 * columns (mode, state, delivered, received) repeat on each of its rows.
 */
export class ConnTrace {
  readonly everyMs: number;
  readonly rows: TraceRow[] = [];
  private readonly stopFn: () => void;

  constructor(sim: Simulator, options: ConnTraceOptions = {}) {
    this.everyMs = options.everyMs ?? 10;
    const hosts = options.hosts ?? sim.hosts; // the live list: hosts added later are sampled too
    this.stopFn = sim.every(this.everyMs, (now) => this.sample(now, hosts), options.start ?? sim.now);
  }

  stop(): void {
    this.stopFn();
  }

  private sample(now: number, hosts: Host[]): void {
    const t = fmtTime(now);
    for (const h of hosts) {
      const all: ConnStats[] = h.core.connStats();
      for (const c of all) {
        if (c.subflows.length === 0) {
          this.rows.push([
            t,
            h.name,
            c.conn,
            c.mode,
            c.state,
            0,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            c.bytesDelivered,
            c.bytesReceived,
          ]);
          continue;
        }
        for (const s of c.subflows) {
          this.rows.push([
            t,
            h.name,
            c.conn,
            c.mode,
            c.state,
            s.pathIndex,
            `${s.local.address}:${s.local.port}`,
            `${s.remote.address}:${s.remote.port}`,
            s.state,
            s.mss,
            s.cwnd,
            s.ssthresh,
            s.srttMs,
            s.rttvarMs,
            s.bytesInFlight,
            s.bytesSent,
            s.bytesAcked,
            s.bytesReceived,
            s.retransmits,
            c.bytesDelivered,
            c.bytesReceived,
          ]);
        }
      }
    }
  }

  /** One column of the rows matching host, conn and (optionally) path, with their times. */
  series(host: string, conn: number, column: TraceColumn, path?: number): { t: number[]; v: number[] } {
    const ci = TRACE_COLUMNS.indexOf(column);
    const t: number[] = [];
    const v: number[] = [];
    for (const r of this.rows) {
      if (r[1] !== host || r[2] !== conn) continue;
      if (path !== undefined && r[5] !== path) continue;
      const x = r[ci];
      if (typeof x !== 'number') continue;
      t.push(r[0] as number);
      v.push(x);
    }
    return { t, v };
  }

  /** The rows as objects keyed by column name. */
  objects(): Record<TraceColumn, string | number | null>[] {
    return this.rows.map((r) => {
      const o = {} as Record<TraceColumn, string | number | null>;
      TRACE_COLUMNS.forEach((c, i) => {
        o[c] = r[i] ?? null;
      });
      return o;
    });
  }

  /** Non-finite numbers (Infinity ssthresh) become strings so nothing is lost. */
  toJSON(): { everyMs: number; columns: readonly string[]; rows: TraceRow[] } {
    const rows = this.rows.map((r) =>
      r.map((x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x)),
    );
    return { everyMs: this.everyMs, columns: TRACE_COLUMNS, rows };
  }

  toCSV(): string {
    const lines = [TRACE_COLUMNS.join(',')];
    for (const r of this.rows) lines.push(r.map(csvCell).join(','));
    return `${lines.join('\n')}\n`;
  }
}
