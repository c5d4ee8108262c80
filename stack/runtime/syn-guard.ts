/**
 * A SYN backlog enforced by the runtime in front of any core: connection-opening SYNs are admitted
 * while the number of half-open handshakes stays under a global limit and a per-source-address
 * limit; the rest are dropped and counted. When a limit is reached the guard asks the core which
 * handshakes are still half-open (`halfOpenKeys`, from connStats) and forgets the others (completed,
 * refused or timed out); without that source, entries are forgotten after `ttlMs`.
 *
 * Why here: a core keeps state for every SYN it answers; a flood of forged SYNs must not grow
 * memory without bound, and one flooding source must not lock others out (the per-source limit).
 * Cost per packet: two byte reads for non-SYNs; a string key and a map lookup per SYN only.
 */
import type { Packet } from '../core/contract';

export interface SynGuardOptions {
  /** Half-open handshakes admitted at once, all sources. Default 256. */
  backlog?: number;
  /** Half-open handshakes admitted at once from one remote address. Default 32. */
  perSource?: number;
  /** Without `halfOpenKeys`: an admitted handshake is forgotten after this long (ms). Default 5000. */
  ttlMs?: number;
  /** Least time between two sweeps (ms). Default 100. */
  sweepIntervalMs?: number;
}

/** Key of a 4-tuple as the guard stores it (local address|port|remote address|port). */
export function tupleKey(la: string, lp: number, ra: string, rp: number): string {
  return `${la}|${lp}|${ra}|${rp}`;
}

const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

export class SynGuard {
  readonly backlog: number;
  readonly perSource: number;
  readonly ttlMs: number;
  readonly sweepIntervalMs: number;
  /** tuple key → expiry; insertion order is admission order. */
  private readonly table = new Map<string, number>();
  private readonly bySource = new Map<string, number>();
  private lastSweep = Number.NEGATIVE_INFINITY;
  dropped = 0;
  admitted = 0;
  sweeps = 0;

  /**
   * @param halfOpenKeys the core's half-open handshakes (tupleKey of each subflow still in
   *   SYN-RECEIVED); consulted only when a limit is reached.
   */
  constructor(
    o: SynGuardOptions = {},
    private readonly halfOpenKeys?: () => Set<string>,
  ) {
    this.backlog = o.backlog ?? 256;
    this.perSource = o.perSource ?? 32;
    this.ttlMs = o.ttlMs ?? 5000;
    this.sweepIntervalMs = o.sweepIntervalMs ?? 100;
  }

  get halfOpen(): number {
    return this.table.size;
  }

  /** True when the packet may go to the core. */
  admit(p: Packet, now: number): boolean {
    const d = p.data;
    if (d.length < 20 || (d[13]! & (SYN | ACK | RST)) !== SYN) return true;
    const key = `${p.dst}|${(d[2]! << 8) | d[3]!}|${p.src}|${(d[0]! << 8) | d[1]!}`;
    const known = this.table.get(key);
    if (known !== undefined) {
      if (known > now) return true; // a retransmitted SYN of an admitted handshake
      this.remove(key, p.src);
    }
    if (!this.halfOpenKeys) this.expire(now);
    let fromSource = this.bySource.get(p.src) ?? 0;
    if (this.table.size >= this.backlog || fromSource >= this.perSource) {
      if (this.halfOpenKeys && now - this.lastSweep >= this.sweepIntervalMs) {
        this.sweep(now);
        fromSource = this.bySource.get(p.src) ?? 0;
      }
      if (this.table.size >= this.backlog || fromSource >= this.perSource) {
        this.dropped++;
        return false;
      }
    }
    this.table.set(key, now + this.ttlMs);
    this.bySource.set(p.src, fromSource + 1);
    this.admitted++;
    return true;
  }

  /** Forgets every admitted handshake the core no longer holds half-open. */
  sweep(now: number): void {
    this.lastSweep = now;
    this.sweeps++;
    const live = this.halfOpenKeys?.();
    if (!live) return;
    for (const key of [...this.table.keys()]) {
      if (!live.has(key)) this.remove(key, key.split('|')[2]!);
    }
  }

  private remove(key: string, src: string): void {
    if (!this.table.delete(key)) return;
    const n = (this.bySource.get(src) ?? 1) - 1;
    if (n <= 0) this.bySource.delete(src);
    else this.bySource.set(src, n);
  }

  /** Drops expired entries from the oldest end (admission order = expiry order). */
  private expire(now: number): void {
    for (const [key, exp] of this.table) {
      if (exp > now) break;
      const src = key.split('|')[2]!;
      this.remove(key, src);
    }
  }
}
