/**
 * Traffic runs: `runTraffic(lab, spec)` in a running lab (our stack through the agents, or the
 * kernel's MPTCP / TCP through a small program in the namespaces), and `simulateRun(model, spec)`
 * in the simulator. Both return the same RunResult.
 */
import type { Lab } from '../lab';
import { UsageError } from '../errors';
import { checkEventsForLab } from '../scenario/scheduler';
import { runKernel } from './kernel';
import type { RunSpec } from './spec';
import { type LabRunOptions, type LabRunOutput, runTs } from './ts';

export type { RunEvent, RunResult, RunStack, RunSubflow, TimelinePoint } from './result';
export type { RunSpec } from './spec';
export type { LabRunOptions, LabRunOutput } from './ts';

export async function runTraffic(
  lab: Lab,
  spec: RunSpec,
  options: LabRunOptions = {},
): Promise<LabRunOutput> {
  const problems = checkEventsForLab(lab, spec.events ?? []);
  if (problems.length > 0) throw new UsageError(`run: ${problems.join('; ')}`);
  if (spec.stack === 'ts') return runTs(lab, spec, options);
  return runKernel(lab, spec, options);
}
