/** The TCP subflow engine: public surface for hosts, the MPTCP layer and tools. */
export { isnFor, newIsnSecret } from './isn';
export { RecvBuffer, SendBuffer } from './plain';
export { ByteRing, WindowStore } from './ring';
export { Scoreboard } from './scoreboard';
export { seqAdd, seqGeq, seqGt, seqInRange, seqLeq, seqLt, seqMax, seqMin, seqSub } from './seq';
export {
  type CloseError,
  DEFAULT_TCB_CONFIG,
  type OutInfo,
  STATE_NAMES,
  Tcb,
  type TcbConfig,
  type TcbHooks,
  type TcbSink,
  type TcbSource,
  type TcbStats,
  TcpState,
} from './tcb';
export {
  decodePacket,
  encodePacket,
  resetFor,
  TcpHost,
  type TcpHostCounters,
  type TcpHostOptions,
} from './host';
