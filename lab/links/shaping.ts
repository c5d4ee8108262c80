/**
 * Link shaping with the kernel's queueing disciplines.
 *
 * Each direction of a link is shaped on the egress of the interface it leaves from: a->b on a's end,
 * b->a on b's end (the ingress of one end is the egress of the other). Rate goes to a tbf at the
 * root; delay, jitter, loss, reordering and duplication go to a netem (as tbf's child when there is
 * also a rate) where the kernel has sch_netem. Where it has not, such a direction needs the
 * userspace emulator (lab/emulator): `planLink` says so, and nothing here silently drops a parameter.
 */
import { defaultQueueBytes } from '../../stack/link/queue';
import { run } from '../exec';
import type { DirParams, LinkModel } from '../topology/model';

/** Ethernet header bytes counted by the qdiscs on top of the IP MTU. */
const ETH_HDR = 14;

/** The parameters of a direction that only netem (or the emulator) can apply. */
export function netemParams(d: DirParams): string[] {
  const out: string[] = [];
  if (d.delayMs !== undefined && d.delayMs > 0) out.push('delay');
  if (d.jitterMs !== undefined && d.jitterMs > 0) out.push('jitter');
  if (d.lossPct !== undefined && d.lossPct > 0) out.push('loss');
  if (d.burstLoss !== undefined) out.push('burst loss');
  if (d.reorderPct !== undefined && d.reorderPct > 0) out.push('reordering');
  if (d.duplicatePct !== undefined && d.duplicatePct > 0) out.push('duplication');
  return out;
}

/** True when a direction has anything to shape at all. */
export function isShaped(d: DirParams): boolean {
  return d.rateMbps !== undefined || netemParams(d).length > 0 || d.trace !== undefined;
}

let netemCache: boolean | undefined;

/**
 * Whether the kernel has sch_netem: tries to attach one to the loopback of a throwaway network
 * namespace (`unshare -n`, so nothing on the host is touched and nothing is left). Once per process.
 */
export async function netemAvailable(): Promise<boolean> {
  if (netemCache !== undefined) return netemCache;
  const env = process.env.MPLAB_NETEM;
  if (env === '0' || env === '1') {
    netemCache = env === '1';
    return netemCache;
  }
  const r = await run('unshare', ['-n', 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'], {
    allowFail: true,
    timeoutMs: 5000,
  });
  netemCache = r.code === 0;
  return netemCache;
}

/** For tests: forget the cached probe. */
export function resetNetemProbe(): void {
  netemCache = undefined;
}

/** How one link is carried: plain veth with tc qdiscs, or through the userspace emulator. */
export interface LinkPlan {
  id: string;
  via: 'tc' | 'emulator' | 'none';
  /** Why the emulator was chosen (for status and errors). */
  reason?: string;
}

export function planLink(link: LinkModel, netem: boolean): LinkPlan {
  if (link.emulator) return { id: link.id, via: 'emulator', reason: 'emulator: true in the topology' };
  if (link.ab.trace !== undefined || link.ba.trace !== undefined)
    return { id: link.id, via: 'emulator', reason: 'trace-driven link' };
  const needs = [...new Set([...netemParams(link.ab), ...netemParams(link.ba)])];
  if (needs.length > 0 && !netem)
    return {
      id: link.id,
      via: 'emulator',
      reason: `${needs.join(', ')} need sch_netem, which this kernel does not have`,
    };
  return { id: link.id, via: isShaped(link.ab) || isShaped(link.ba) ? 'tc' : 'none' };
}

function kbit(rateMbps: number): string {
  return `${Math.max(1, Math.round(rateMbps * 1000))}kbit`;
}

/** Token bucket depth: at least four full frames, or 2 ms at the rate, whichever is larger. */
export function tbfBurst(rateMbps: number, mtu: number): number {
  return Math.max(4 * (mtu + ETH_HDR), Math.ceil((rateMbps * 1e6 * 0.002) / 8));
}

/**
 * Queue limit in bytes for a direction: from the model's queue (bytes, ms at the rate, or packets of
 * MTU size); by default 100 ms at the rate, and never under 16 full frames.
 */
export function queueLimitBytes(d: DirParams, mtu: number): number {
  const frame = mtu + ETH_HDR;
  const q = d.queue;
  const rateBps = d.rateMbps !== undefined ? (d.rateMbps * 1e6) / 8 : undefined;
  if (q?.bytes !== undefined) return Math.max(frame, Math.round(q.bytes));
  if (q?.packets !== undefined) return Math.max(1, Math.round(q.packets)) * frame;
  if (q?.ms !== undefined && rateBps !== undefined)
    return Math.max(frame, Math.round((rateBps * q.ms) / 1000));
  if (rateBps !== undefined) return defaultQueueBytes(rateBps / 1000, frame);
  return 1000 * frame;
}

function netemArgs(d: DirParams, mtu: number): string {
  const parts: string[] = [];
  if ((d.delayMs ?? 0) > 0 || (d.jitterMs ?? 0) > 0) {
    parts.push(`delay ${d.delayMs ?? 0}ms`);
    if ((d.jitterMs ?? 0) > 0) parts.push(`${d.jitterMs}ms`);
  }
  if (d.burstLoss !== undefined) {
    const ge = d.burstLoss;
    // Gilbert-Elliott: p (good->bad), r (bad->good), 1-h (loss in bad), 1-k (loss in good), in %.
    parts.push(`loss gemodel ${ge.p}% ${ge.r}% ${ge.lossBad}% ${ge.lossGood}%`);
  } else if ((d.lossPct ?? 0) > 0) parts.push(`loss ${d.lossPct}%`);
  if ((d.duplicatePct ?? 0) > 0) parts.push(`duplicate ${d.duplicatePct}%`);
  if ((d.reorderPct ?? 0) > 0) parts.push(`reorder ${d.reorderPct}%`);
  parts.push(`limit ${Math.max(1, Math.ceil(queueLimitBytes(d, mtu) / (mtu + ETH_HDR)))}`);
  return parts.join(' ');
}

/**
 * `tc -batch` lines (without the leading `tc`) that make `ifname`'s egress match one direction.
 * `replace` both creates and changes, so the same lines serve `up` and runtime changes; a direction
 * with nothing to shape deletes the root qdisc (`-force` batches tolerate "no qdisc").
 */
export function tcLines(ifname: string, d: DirParams, mtu: number, netem: boolean): string[] {
  const hasNetem = netemParams(d).length > 0;
  if (hasNetem && !netem) throw new Error(`${ifname}: ${netemParams(d).join(', ')} need sch_netem`);
  if ((d.reorderPct ?? 0) > 0 && !((d.delayMs ?? 0) > 0))
    throw new Error(`${ifname}: reordering needs a delay (netem reorders by letting packets skip it)`);
  const dev = `dev ${ifname}`;
  if (d.rateMbps !== undefined) {
    const tbf = `tbf rate ${kbit(d.rateMbps)} burst ${tbfBurst(d.rateMbps, mtu)} limit ${queueLimitBytes(d, mtu)}`;
    const lines = [`qdisc replace ${dev} root handle 1: ${tbf}`];
    if (hasNetem) lines.push(`qdisc replace ${dev} parent 1:1 handle 10: netem ${netemArgs(d, mtu)}`);
    return lines;
  }
  if (hasNetem) return [`qdisc replace ${dev} root handle 10: netem ${netemArgs(d, mtu)}`];
  return [`qdisc del ${dev} root`];
}

/**
 * Lines that move `ifname`'s egress from `old` to `next` at run time. Where the qdisc tree keeps its
 * shape (tbf stays tbf, netem stays netem) `replace` changes it in place and keeps the queue;
 * where it changes shape (a netem child appears or goes, the rate comes or goes) the root is
 * deleted first, so no stale child survives. Run with `tc -force -batch`.
 */
export function runtimeTcLines(
  ifname: string,
  old: DirParams,
  next: DirParams,
  mtu: number,
  netem: boolean,
): string[] {
  const shape = (d: DirParams) => `${d.rateMbps !== undefined}/${netemParams(d).length > 0}`;
  const lines = tcLines(ifname, next, mtu, netem);
  if (shape(old) === shape(next) || lines[0]?.startsWith('qdisc del')) return lines;
  return [`qdisc del dev ${ifname} root`, ...lines];
}

/** Merges a runtime change into a direction's parameters (null clears a parameter). */
export interface DirChange {
  rateMbps?: number | null;
  delayMs?: number | null;
  jitterMs?: number | null;
  lossPct?: number | null;
}

export function applyChange(d: DirParams, c: DirChange): DirParams {
  const out: DirParams = { ...d };
  for (const k of ['rateMbps', 'delayMs', 'jitterMs', 'lossPct'] as const) {
    const v = c[k];
    if (v === null) delete out[k];
    else if (v !== undefined) out[k] = v;
  }
  return out;
}
