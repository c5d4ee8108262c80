/**
 * `mplab run --sim --capture FILE [--capture-at NODE[:IFACE]]`: a pcap of what a node's interfaces
 * carried in the simulated run, as a capture on the lab's interface would have it: what the node
 * sent, when it sent it (lost packets included), and what reached it, when it arrived. The
 * simulator's packets are our stack's TCP segments, written as IP packets with valid checksums
 * (what `mplab capture --stack` gives in a lab; the UDP phy's encapsulation is not simulated).
 * Times are virtual.
 */
import { UsageError } from '../errors';
import type { LabModel } from '../topology/model';
import type { SegmentWriter } from '../../stack/sim/sim';
import { PcapFile } from '../../stack/wire/pcap';
import type { SimLab } from './map';

export interface CaptureAt {
  node: string;
  /** All of the node's interfaces when absent. */
  iface?: string;
}

/** Parses "node" or "node:iface" against the model; a name it does not have is a usage error. */
export function parseCaptureAt(model: LabModel, text: string): CaptureAt {
  const [node, iface, ...rest] = text.split(':');
  if (!node || rest.length > 0 || iface === '')
    throw new UsageError(`--capture-at: "${text}" is not NODE or NODE:IFACE`);
  const n = model.nodes.find((x) => x.name === node);
  if (!n)
    throw new UsageError(
      `--capture-at: no node "${node}" in ${model.name} (have: ${model.nodes.map((x) => x.name).join(', ')})`,
    );
  if (iface !== undefined && !n.interfaces.some((i) => i.name === iface))
    throw new UsageError(
      `--capture-at: node "${node}" has no interface "${iface}" (have: ${n.interfaces.map((i) => i.name).join(', ')})`,
    );
  return iface === undefined ? { node } : { node, iface };
}

/**
 * Taps every simulated link with an end at `at` into `writer`; returns how many links it tapped
 * (0 when the node's interfaces are on no link) and a function that removes the taps.
 */
export function captureSim(
  lab: SimLab,
  model: LabModel,
  at: CaptureAt,
  writer: SegmentWriter,
): { links: number; stop: () => void } {
  const stops: (() => void)[] = [];
  for (const l of model.links) {
    const link = lab.links.get(l.id);
    if (!link) continue;
    for (const [end, out] of [
      [l.a, 'ab'],
      [l.b, 'ba'],
    ] as const) {
      if (end.node !== at.node || (at.iface !== undefined && end.iface !== at.iface)) continue;
      // leaving the node: when offered to the link; arriving: when delivered
      stops.push(
        link.tap((t, pkt, point, dir) => {
          if ((dir === out) === (point === 'enq')) writer.writeSegment(t, pkt.src, pkt.dst, pkt.data);
        }),
      );
    }
  }
  return {
    links: stops.length,
    stop: () => {
      for (const s of stops) s();
    },
  };
}

/** Opens a capture file; a path that cannot be created is the user's to fix (exit 2). */
export function openCapture(path: string): PcapFile {
  try {
    return new PcapFile(path);
  } catch (e) {
    throw new UsageError(`--capture ${path}: ${(e as Error).message}`);
  }
}
