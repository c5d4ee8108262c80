/**
 * Runs a campaign file: each cell × repetition in a fresh lab (up with the cell's link parameters
 * and knobs → run → down), or in the simulator with `sim` (seeded per run), through the resumable
 * campaign runner (lab/campaign/runner.ts), which writes runs/*.json, results.csv, summaries and
 * the goodput chart.
 */
import { createHash } from 'node:crypto';
import { cells, type PlannedRun } from '../campaign/matrix';
import { type CampaignOutcome, type CampaignProgress, runCampaign } from '../campaign/runner';
import { checkCells, type LoadedCampaign, loadCampaign, prepareRun } from '../campaign/spec';
import { RuntimeFailure, UsageError } from '../errors';
import { Lab } from '../lab';
import { simRefusals } from '../sim/refuse';
import { simulateRun } from '../sim/run';
import { loadTopology } from '../topology/index';
import { runTraffic } from './index';
import type { RunResult } from './result';
import { versions } from './util';

export interface CampaignFileOptions {
  outDir: string;
  resume?: boolean;
  sim?: boolean;
  onProgress?: (p: CampaignProgress) => void;
  /** Aborting stops the run in progress (it is not recorded as done) and the campaign. */
  signal?: AbortSignal;
  /** Flag cells whose goodput cv exceeds this (default 0.1). */
  varianceThreshold?: number;
}

/** A short, unique lab name per run (lab names are at most 20 characters). */
export function runLabName(campaign: string, runId: string): string {
  const h = createHash('sha256').update(`${campaign}/${runId}/${process.pid}`).digest('hex').slice(0, 8);
  return `cmp${h}`;
}

export async function prepareCampaign(file: string): Promise<LoadedCampaign> {
  const loaded = loadCampaign(file);
  const base = await loadTopology(loaded.topology);
  checkCells(base, loaded);
  return loaded;
}

/** One run of a campaign: in a fresh lab, or simulated. */
export async function campaignRun(
  loaded: LoadedCampaign,
  run: PlannedRun,
  options: { sim?: boolean; signal?: AbortSignal } = {},
): Promise<RunResult> {
  const name = runLabName(loaded.spec.name, run.id);
  const fresh = await loadTopology(loaded.topology, { name });
  const { model, spec } = prepareRun(fresh, loaded, run.cell.assignments, name);
  if (options.sim) return simulateRun(model, spec, { seed: run.seed }).result;
  const lab = await Lab.up(model);
  try {
    if (options.signal?.aborted) throw new RuntimeFailure('interrupted');
    const out = await runTraffic(lab, spec, options.signal ? { signal: options.signal } : {});
    if (out.result.integrity === 'interrupted') throw new RuntimeFailure('interrupted');
    return { ...out.result, seed: run.seed };
  } finally {
    await lab.down();
  }
}

/**
 * With --sim: every cell the simulator cannot model (a `stack: kernel` or `tcp` cell, kernel nodes…)
 * refused before any run, exit 2, each cell with its reason.
 */
async function refuseUnsimulableCells(loaded: LoadedCampaign): Promise<void> {
  const base = await loadTopology(loaded.topology);
  const problems: string[] = [];
  for (const cell of cells(loaded.spec.axes)) {
    const { model, spec } = prepareRun(base, loaded, cell.assignments, base.name);
    const name = Object.entries(cell.assignments)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    for (const r of simRefusals(model, spec.stack)) problems.push(`cell ${name || 'base'}: ${r}`);
  }
  if (problems.length > 0)
    throw new UsageError(`campaign --sim cannot model:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
}

export async function runCampaignFile(file: string, options: CampaignFileOptions): Promise<CampaignOutcome> {
  const loaded = await prepareCampaign(file);
  if (options.sim) await refuseUnsimulableCells(loaded);
  const spec = options.sim ? { ...loaded.spec, base: { ...loaded.spec.base, sim: true } } : loaded.spec;
  return runCampaign(spec, {
    outDir: options.outDir,
    resume: options.resume ?? false,
    versions: { ...versions(), mode: options.sim ? 'simulator' : 'lab' },
    runOne: (run) =>
      campaignRun(loaded, run, {
        ...(options.sim ? { sim: true } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      }),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    shouldStop: () => options.signal?.aborted === true,
    ...(options.varianceThreshold !== undefined ? { varianceThreshold: options.varianceThreshold } : {}),
  });
}
