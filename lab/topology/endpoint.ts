/**
 * A node endpoint as commands take it: `node` (all of its interfaces) or `node:iface`, checked
 * against the lab's model (`mplab capture`, `mplab run --sim --capture-at`).
 */
import { UsageError } from '../errors';
import type { LabModel, NodeModel } from './model';

export interface NodeEndpoint {
  node: NodeModel;
  /** Absent: all of the node's interfaces. */
  iface?: string;
}

/**
 * Parses `text` against `model`; a malformed endpoint, or a node or interface the model lacks, is a
 * usage error that starts with `what` and names what there is. `alsoIfaces` are names accepted
 * besides the node's own interfaces (dumpcap's `any`, loopback).
 */
export function parseNodeEndpoint(
  model: LabModel,
  text: string,
  what: string,
  alsoIfaces: readonly string[] = [],
): NodeEndpoint {
  const [name, iface, ...rest] = text.split(':');
  if (!name || rest.length > 0 || iface === '')
    throw new UsageError(`${what}: "${text}" is not NODE or NODE:IFACE`);
  const node = model.nodes.find((x) => x.name === name);
  if (!node)
    throw new UsageError(
      `${what}: no node "${name}" in ${model.name} (have: ${model.nodes.map((x) => x.name).join(', ')})`,
    );
  if (iface === undefined) return { node };
  if (!alsoIfaces.includes(iface) && !node.interfaces.some((i) => i.name === iface))
    throw new UsageError(
      `${what}: node "${name}" has no interface "${iface}" (have: ${node.interfaces.map((i) => i.name).join(', ')})`,
    );
  return { node, iface };
}
