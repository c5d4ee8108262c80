/**
 * The link model's default drop-tail queue, one rule for every implementation of a link (the
 * simulator's links, the userspace emulator, and tc's tbf/netem limits in lab/links/shaping.ts):
 * 100 ms at the link's rate, never under 16 full frames.
 */
export const DEFAULT_QUEUE_MS = 100;
export const MIN_QUEUE_FRAMES = 16;
/** A full Ethernet frame at the default MTU: 1500 + 14. */
export const FULL_FRAME_BYTES = 1514;

/** Default queue limit in bytes for a rate in bytes per ms (a trace's mean rate for trace links). */
export function defaultQueueBytes(bytesPerMs: number, frameBytes = FULL_FRAME_BYTES): number {
  return Math.max(MIN_QUEUE_FRAMES * frameBytes, Math.round(DEFAULT_QUEUE_MS * bytesPerMs));
}
