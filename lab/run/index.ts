/**
 * Traffic runs: `runTraffic(lab, spec)` in a running lab, and `simulateRun(model, spec)` in the
 * simulator. Both return the same RunResult. Each end runs its own node's stack (stacks.ts): both
 * ours → the agents (ts.ts); both the kernel's (MPTCP or TCP) → the Python program in the
 * namespaces (kernel.ts); one of each → mixed.ts.
 */
import type { Lab } from '../lab';
import { UsageError } from '../errors';
import { checkEventsForLab } from '../scenario/scheduler';
import { runKernel } from './kernel';
import { runMixed } from './mixed';
import { isMultiRun, runParallel } from './parallel';
import { type RunSpec, resolveEndpoints } from './spec';
import { chooseStacks } from './stacks';
import { type LabRunOptions, type LabRunOutput, runTs } from './ts';

export type {
  RunConnection,
  RunDirection,
  RunEnd,
  RunEvent,
  RunResult,
  RunStack,
  RunSubflow,
  TimelinePoint,
} from './result';
export type { RunSpec } from './spec';
export type { LabRunOptions, LabRunOutput } from './ts';

export async function runTraffic(
  lab: Lab,
  spec: RunSpec,
  options: LabRunOptions = {},
): Promise<LabRunOutput> {
  const problems = checkEventsForLab(lab, spec.events ?? []);
  if (problems.length > 0) throw new UsageError(`run: ${problems.join('; ')}`);
  // several connections: each one a single run, started together and merged (parallel.ts)
  if (isMultiRun(spec)) {
    resolveEndpoints(lab.model, spec);
    return runParallel(spec, options, (one, o) => runTraffic(lab, one, o));
  }
  const { from, to } = resolveEndpoints(lab.model, spec);
  const stacks = chooseStacks(from, to, spec.stack);
  const { from: f, to: t } = stacks;
  let out: LabRunOutput;
  if (f === 'ts' && t === 'ts') out = await runTs(lab, spec, options);
  else if (f !== 'ts' && t !== 'ts') out = await runKernel(lab, spec, options, { from: f, to: t });
  else return runMixed(lab, spec, stacks, options);
  // (the mixed runner writes these itself)
  if (stacks.notes.length > 0) out.result.notes = [...stacks.notes, ...(out.result.notes ?? [])];
  return out;
}
