/**
 * The deterministic network simulator (public API).
 *
 *   const { sim, a, b } = buildPair({ factory: (h) => makeCore(h), rateMbps: 50, rttMs: 20, queueMs: 50 });
 *   const x = startBulk(sim, { client: a, server: b, bytes: 10e6 });
 *   const trace = new ConnTrace(sim, { everyMs: 10 });
 *   sim.runWhile(() => !x.done, 60_000);
 *   expect(x.ok).toBe(true);
 *
 * Time is virtual, in ms (float). Same seed and inputs: byte-identical results and traces.
 */
export type { ConnStats, CoreEvent, NetCore, Packet, SubflowStats } from '../core/contract';
export { Rng, hash32 } from './prng';
export { EventQueue, SimEvent, type EventHandler } from './queue';
export {
  canonicalAddress,
  Simulator,
  Host,
  Router,
  Switch,
  Iface,
  type HopPacket,
  type UnreachableCode,
  Link,
  LinkDir,
  type SimOptions,
  type SimNode,
  type LinkScheduleEntry,
  type LinkTap,
  type SegmentWriter,
} from './sim';
export type {
  CoreFactory,
  DeliveryTrace,
  DropCause,
  GilbertElliott,
  HostInfo,
  HostListener,
  LinkConfig,
  LinkCounters,
  LinkParams,
  Middlebox,
  MiddleboxContext,
  Reorder,
  SimLogEntry,
} from './types';
export {
  ConnTrace,
  PacketTrace,
  TRACE_COLUMNS,
  type ConnTraceOptions,
  type PacketEvent,
  type PacketRecord,
  type TraceColumn,
  type TraceRow,
} from './trace';
export {
  buildPair,
  buildMultiPath,
  buildTwoPath,
  buildDumbbell,
  simAddress,
  type Family,
  type PairOptions,
  type Pair,
  type MultiPathOptions,
  type MultiPath,
  type DumbbellOptions,
  type Dumbbell,
} from './builders';
export { BulkTransfer, startBulk, jainIndex, type BulkOptions } from './apps';
export {
  chain,
  dropWhere,
  fixTcpChecksum,
  rewritePayload,
  stripOptions,
  tcpFlags,
  tcpOptionKinds,
  tcpPayload,
  type StripOptions,
} from './middleboxes';
export { parseMahimahi } from './types';
export { RoutingTable, flowHash, type RouteSpec, type RuleSpec, type RouteAnswer } from './routing';
