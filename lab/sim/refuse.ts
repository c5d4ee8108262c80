/**
 * What `--sim` cannot model, refused before anything runs (exit 2), with what to use instead. The
 * simulator runs our stack over the lab's plan and link model; it has no Linux kernel, so nothing
 * that would run the kernel's TCP or MPTCP, nor software inside a custom container image, can be
 * simulated. A simulated result is never labelled as something it did not run.
 */
import { UsageError } from '../errors';
import type { RunStack } from '../run/result';
import type { LabModel } from '../topology/model';

/** Every reason the simulator cannot give this run's answer; empty when it can. */
export function simRefusals(model: LabModel, stack: RunStack): string[] {
  const out: string[] = [];
  if (stack === 'kernel')
    out.push(
      "--stack kernel runs the Linux kernel's MPTCP, which the simulator does not have: run it in a lab " +
        '(mplab up <topology>, then mplab run … --stack kernel), or simulate our stack with --stack ts',
    );
  if (stack === 'tcp')
    out.push(
      "--stack tcp is the kernel's plain TCP in a lab, which the simulator does not have: run it in a lab, " +
        "or simulate our stack without MPTCP (--stack ts with net.mptcp.mptcp_enabled: 0 in the nodes' knobs)",
    );
  for (const n of model.nodes) {
    if (n.stack === 'kernel')
      out.push(
        `node '${n.name}' runs the kernel's MPTCP (stack: kernel), which the simulator does not have: ` +
          'run the topology in a lab, or give the node stack: ts to simulate our stack there',
      );
    if (n.image !== undefined)
      out.push(
        `node '${n.name}' runs the container image '${n.image}', whose software the simulator cannot run: ` +
          'run the topology in a lab (docker backend), or drop image: to simulate the node with our stack',
      );
  }
  return out;
}

/** Throws a UsageError (exit 2) listing every refusal, or returns. */
export function refuseUnsimulable(model: LabModel, stack: RunStack): void {
  const r = simRefusals(model, stack);
  if (r.length === 0) return;
  throw new UsageError(
    r.length === 1
      ? `--sim: ${r[0]}`
      : `--sim cannot model this run:\n${r.map((x) => `  - ${x}`).join('\n')}`,
  );
}
