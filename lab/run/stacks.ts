/**
 * Which stack each end of a run uses. Every node runs its own kind: our agent on a `stack: ts`
 * node, the kernel's MPTCP on a `stack: kernel` node; `--stack` changes that only where the node
 * can run more than one:
 *
 *   node                      can run
 *   stack: ts, phy: udp       ts (its agent), kernel, tcp (the namespace's kernel has the addresses)
 *   stack: ts, phy: tun       ts only (the TUN phy steers the node's TCP away from its kernel)
 *   stack: kernel             kernel, tcp
 *
 * So `mplab run a b` between a ts node and a kernel node runs our stack on one end and the
 * kernel's MPTCP on the other, and `--stack tcp` there makes the kernel end plain TCP.
 */
import { UsageError } from '../errors';
import type { NodeModel } from '../topology/model';
import type { RunStack } from './result';

/** The stacks `node` can run, its own first. */
export function stacksOf(node: NodeModel): RunStack[] {
  if (node.stack === 'kernel') return ['kernel', 'tcp'];
  if (node.stack === 'ts') return node.phy === 'tun' ? ['ts'] : ['ts', 'kernel', 'tcp'];
  return [];
}

/** What `node` runs when `asked` is requested: `asked` where it can, else its own stack. */
export function stackFor(node: NodeModel, asked: RunStack): RunStack {
  const can = stacksOf(node);
  const own = can[0];
  if (own === undefined)
    throw new UsageError(`run: node '${node.name}' runs no stack (stack: ${node.stack})`);
  return can.includes(asked) ? asked : own;
}

export interface EndStacks {
  from: RunStack;
  to: RunStack;
  /** Says which stack each end ran when they differ, or when --stack could not apply to a node. */
  notes: string[];
}

export function chooseStacks(from: NodeModel, to: NodeModel, asked: RunStack): EndStacks {
  const f = stackFor(from, asked);
  const t = stackFor(to, asked);
  const notes: string[] = [];
  const label: Record<RunStack, string> = {
    ts: 'our stack (its agent)',
    kernel: "the kernel's MPTCP",
    tcp: 'plain kernel TCP',
  };
  for (const [n, k] of [
    [from, f],
    [to, t],
  ] as const)
    if (k !== asked)
      notes.push(
        `node '${n.name}' ran ${label[k]}, not --stack ${asked}: a stack: ${n.stack}${n.stack === 'ts' ? `, phy: ${n.phy}` : ''} node runs ${stacksOf(n).join(' or ')}`,
      );
  if (f !== t) notes.push(`mixed stacks: '${from.name}' ran ${label[f]}, '${to.name}' ran ${label[t]}`);
  return { from: f, to: t, notes };
}
