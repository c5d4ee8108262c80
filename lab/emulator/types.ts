/**
 * Types shared by the emulator process (main.ts, dataplane.ts), its pure pipeline (pipeline.ts) and
 * the client API the lab calls (index.ts). See docs/emulator.md for the design.
 */

import type { DirParams, BurstLoss as ModelBurstLoss, QueueLimit } from '../topology/model';

export type { QueueLimit };

/**
 * Gilbert-Elliott burst loss in percent (netem's `loss gemodel p r 1-h 1-k`): the topology model's
 * BurstLoss with the two state loss probabilities optional (lossBad default 100, lossGood default 0).
 */
export interface BurstLoss extends Omit<ModelBurstLoss, 'lossBad' | 'lossGood'> {
  lossBad?: number;
  lossGood?: number;
}

/**
 * One direction of a link: the topology model's DirParams (lab/topology/model.ts), every field
 * optional, absent = no effect; burst loss with its defaults optional. In the emulator, delay varies
 * uniformly in [delay - jitter, delay + jitter] without reordering unless reorderPct (the percent of
 * frames that skip the delay stage; needs delayMs > 0); a queue given in ms is converted to bytes at
 * the current rate (for trace links at 12 Mbit/s per 1500 B/ms); a trace replaces rateMbps.
 */
export interface EmuDirParams extends Omit<DirParams, 'burstLoss'> {
  burstLoss?: BurstLoss;
}

export interface EmuLinkEnd {
  /**
   * Namespace the TAP is created in: an `ip netns` name or an absolute namespace file path
   * (e.g. /proc/PID/ns/net of a container); absent = the emulator's own namespace.
   */
  netns?: string;
  /** Interface name inside that namespace (≤ 15 chars). */
  ifname: string;
  mac?: string;
  mtu?: number;
}

export interface EmuLinkConfig {
  id: string;
  a: EmuLinkEnd;
  b: EmuLinkEnd;
  /** a → b direction. */
  ab: EmuDirParams;
  /** b → a direction. */
  ba: EmuDirParams;
  /** Initial state (default true). */
  up?: boolean;
}

export interface EmulatorConfig {
  /** Lab name (for logs). */
  lab: string;
  /** Control socket path. */
  socket: string;
  /** PRNG seed (same seed + same frame sequence = same decisions). Default 1. */
  seed?: number;
  /** When a link goes down, also drop the TAPs' carrier so the nodes see NO-CARRIER (default true). */
  carrier?: boolean;
  /**
   * Real-time priority (SCHED_FIFO, 1–99) for the data-plane thread, so release times hold when
   * the machine is busy; 0 = ordinary scheduling. Default 10 (falls back to ordinary if refused).
   */
  rtPriority?: number;
  links: EmuLinkConfig[];
}

export type DropCause = 'queue' | 'loss' | 'burst' | 'down';

/** Counters of one direction of a link. */
export interface DirStats {
  /** Frames and bytes that entered the direction (read from the sending end's TAP). */
  frames: number;
  bytes: number;
  /** Frames and bytes written to the receiving end's TAP. */
  delivered: number;
  deliveredBytes: number;
  drops: Record<DropCause, number>;
  /** Copies made; always frames + duplicated = delivered + all drops + pending + writeErrors. */
  duplicated: number;
  reordered: number;
  /** Frames currently held (queued or in flight). */
  pending: number;
  /** Bytes waiting for the rate limiter now (filled in by stats). */
  queueBytes: number;
  /** Queue high-water mark since start (bytes and frames waiting for the rate limiter). */
  queueHighBytes: number;
  queueHighFrames: number;
  /** Frames the receiving TAP refused (write error, e.g. interface down). */
  writeErrors: number;
}

export interface LinkStats {
  id: string;
  up: boolean;
  ab: DirStats;
  ba: DirStats;
  /** The parameters in force per direction. */
  params: { ab: EmuDirParams; ba: EmuDirParams };
}

export interface EmulatorStats {
  pid: number;
  uptimeMs: number;
  /** Largest lateness of a release behind its due time (ms), and releases more than 1 ms late. */
  lateMaxMs: number;
  lateCount: number;
  links: LinkStats[];
}

export type Direction = 'ab' | 'ba' | 'both';

/** Control channel requests: one JSON object per line on the unix socket. */
export type ControlRequest =
  | {
      id?: number | string;
      cmd: 'set';
      link: string;
      dir?: Direction;
      params: EmuDirParams;
      replace?: boolean;
    }
  | { id?: number | string; cmd: 'up'; link: string }
  | { id?: number | string; cmd: 'down'; link: string }
  | { id?: number | string; cmd: 'stats'; link?: string }
  | { id?: number | string; cmd: 'ping' }
  | { id?: number | string; cmd: 'stop' };

export type ControlResponse =
  | { id?: number | string; ok: true; result?: unknown }
  | { id?: number | string; ok: false; error: string };
