/** Public types of the simulator: link parameters, counters, log entries. */
import type { CoreEvent, NetCore, Packet } from '../core/contract';
import { parseTrace } from '../link/trace';

/** Gilbert-Elliott two-state burst loss. Per packet: lose with the state's loss, then move. */
export interface GilbertElliott {
  /** Probability of moving good -> bad, per packet. */
  p: number;
  /** Probability of moving bad -> good, per packet (mean bad sojourn = 1/r packets). */
  r: number;
  /** Loss probability in the good state (default 0). */
  lossGood?: number;
  /** Loss probability in the bad state (default 1). */
  lossBad?: number;
}

export interface Reorder {
  /** Probability that a packet is picked. */
  prob: number;
  /**
   * Given: the picked packet is held back this long beyond the delay, and later ones overtake it.
   * Absent: netem's reordering (what a topology's `reorder:` means, in the lab and here): the picked
   * packet skips the delay and overtakes the ones in flight (needs a delay to have any effect).
   */
  extraDelayMs?: number;
}

export interface DeliveryTrace {
  /** Opportunity times in ms from the start of the trace, ascending; repeats allowed. */
  opportunitiesMs: number[];
  /** Length of one cycle, ms (default: the last opportunity time). */
  periodMs?: number;
  /** Virtual time at which the trace starts (default 0). */
  startMs?: number;
}

/** What a middlebox sees besides the packet. */
export interface MiddleboxContext {
  now: number;
  link: string;
  dir: 'ab' | 'ba';
}

/**
 * A middlebox on a link direction: return the packet (rewritten or not, same object or a new one)
 * to let it through, or null to drop it. Runs after loss, before propagation.
 */
export type Middlebox = (packet: Packet, ctx: MiddleboxContext) => Packet | null;

/** One direction of a link. */
export interface LinkParams {
  /** Mbit/s (10^6). Infinity (the default) or 0: no serialization delay, no queueing. */
  rateMbps: number;
  /** One-way propagation delay, ms. */
  delayMs: number;
  /** Jitter added to the delay, ms: uniform in [-j, +j] or normal with sd j. Never reorders. */
  jitterMs: number;
  jitterDist: 'uniform' | 'normal';
  /**
   * Drop-tail queue limit in bytes (wire bytes, counting the packet in service). When neither
   * queueBytes nor queueMs is set: 100 ms at the current rate, at least 16 full frames (the link
   * model's default, stack/link/queue.ts).
   */
  queueBytes?: number;
  /** Drop-tail queue limit as time at the current rate: queueMs * rate / 8. */
  queueMs?: number;
  /**
   * Drop-tail queue limit in packets (the packet in service counts). Setting one of queueBytes,
   * queueMs, queuePackets alone (in the config or in a later set) clears the other two.
   */
  queuePackets?: number;
  /**
   * Packet-delivery opportunities instead of a fixed rate (a Mahimahi trace): each opportunity
   * carries up to 1500 bytes (small packets share one, a large one spans several, as in the
   * emulator: stack/link/trace.ts); unused opportunities are lost; the list repeats every periodMs
   * (default: its last time). Overrides rateMbps; queueMs then uses the trace's mean rate at 1500
   * bytes per opportunity.
   */
  deliveryTrace?: DeliveryTrace | null;
  /** Independent random loss probability per packet. */
  loss: number;
  gilbert?: GilbertElliott | null;
  reorder?: Reorder | null;
  /** Probability that a packet is delivered twice. */
  duplicate: number;
  /** Packets larger than this (wire bytes) are dropped. */
  mtu?: number;
  /** Bytes added to each packet's data length on the wire; default: the IP header (20 v4, 40 v6). */
  overheadBytes?: number;
  /** Bytes of encapsulation on top of that (8: the UDP header our stack's UDP phy adds). */
  encapBytes?: number;
  middlebox?: Middlebox | null;
}

/** A link: the same parameters both ways, with per-direction overrides (a = first end). */
export interface LinkConfig extends Partial<LinkParams> {
  name?: string;
  /** Shorthand: delayMs = rttMs / 2 both ways (per-direction delayMs overrides still apply). */
  rttMs?: number;
  ab?: Partial<LinkParams>;
  ba?: Partial<LinkParams>;
}

export type DropCause = 'queue' | 'random' | 'burst' | 'down' | 'middlebox' | 'mtu';

/** Per link direction; packets/bytes are wire sizes. */
export interface LinkCounters {
  /** Offered to the link (every packet handed to it, dropped or not). */
  sentPackets: number;
  sentBytes: number;
  /** Arrived at the far end. */
  deliveredPackets: number;
  deliveredBytes: number;
  dropped: Record<DropCause, number>;
  duplicated: number;
  reordered: number;
  /** Largest queue occupancy seen, bytes and packets (the packet in service counts). */
  queueHighWaterBytes: number;
  queueHighWaterPackets: number;
}

export interface SimLogEntry {
  t: number;
  event: 'link-down' | 'link-up' | 'link-set' | 'addresses';
  subject: string;
  detail?: string;
}

export type HostListener = (event: CoreEvent, host: import('./sim').Host) => void;

/** What a core factory learns about its host. */
export interface HostInfo {
  name: string;
  addresses: string[];
  /** A seeded random stream for this host (ISN keys, ports): deterministic per sim seed. */
  rng: import('./prng').Rng;
}

export type CoreFactory = (host: HostInfo) => NetCore;

/**
 * Parses a Mahimahi packet-delivery trace with the link model's parser (stack/link/trace.ts): one
 * integer millisecond per line, each line one delivery opportunity of 1500 bytes. Blank lines and
 * lines starting with # are skipped. Throws a TraceError naming the line.
 */
export function parseMahimahi(text: string, source = 'mahimahi trace'): DeliveryTrace {
  const t = parseTrace(text, source);
  return { opportunitiesMs: Array.from(t.times), periodMs: t.period };
}
