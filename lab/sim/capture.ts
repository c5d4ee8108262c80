/**
 * `mplab run --sim --capture FILE [--capture-at NODE[:IFACE]]`: a pcap of what a node's interfaces
 * carried in the simulated run, as a capture on the lab's interface would have it: what the node
 * sent, when it sent it (lost packets included), and what reached it, when it arrived. The
 * simulator's packets are our stack's TCP segments, written as IP packets with valid checksums
 * (what `mplab capture --stack` gives in a lab; the UDP phy's encapsulation is not simulated).
 * Times are virtual.
 */
import { UsageError } from '../errors';
import { type NodeEndpoint, parseNodeEndpoint } from '../topology/endpoint';
import type { LabModel } from '../topology/model';
import type { SegmentWriter } from '../../stack/sim/sim';
import { PcapFile } from '../../stack/wire/pcap';
import type { SimLab } from './map';

/** Where to capture: a node, or one of its interfaces. */
export type CaptureAt = NodeEndpoint;

/** Parses `--capture-at` ("node" or "node:iface") against the model (usage errors name what is there). */
export function parseCaptureAt(model: LabModel, text: string): CaptureAt {
  return parseNodeEndpoint(model, text, '--capture-at');
}

/** Taps every simulated link with an end at `at` into `writer`; a node on no link is a usage error. */
export function captureSim(lab: SimLab, model: LabModel, at: CaptureAt, writer: SegmentWriter): void {
  let tapped = 0;
  for (const l of model.links) {
    const link = lab.links.get(l.id);
    if (!link) continue;
    for (const [end, out] of [
      [l.a, 'ab'],
      [l.b, 'ba'],
    ] as const) {
      if (end.node !== at.node.name || (at.iface !== undefined && end.iface !== at.iface)) continue;
      // leaving the node: when offered to the link; arriving: when delivered
      link.tap((t, pkt, point, dir) => {
        if ((dir === out) === (point === 'enq')) writer.writeSegment(t, pkt.src, pkt.dst, pkt.data);
      });
      tapped++;
    }
  }
  if (tapped === 0)
    throw new UsageError(
      `--capture-at ${at.node.name}${at.iface ? `:${at.iface}` : ''}: on no link of ${model.name}`,
    );
}

/** Opens a capture file; a path that cannot be created is the user's to fix (exit 2). */
export function openCapture(path: string): PcapFile {
  try {
    return new PcapFile(path);
  } catch (e) {
    throw new UsageError(`--capture ${path}: ${(e as Error).message}`);
  }
}
