import type { Command } from 'commander';
import { render } from 'ink';
import type { CampaignProgress } from '../../lab/campaign/runner';
import { UsageError } from '../../lab/errors';
import { reportCampaign } from '../../lab/campaign/runner';
import { runCampaignFile } from '../../lab/run/campaign';
import { CampaignSummary, CampaignView, progressLine } from '../ui/campaign-view';
import { printJson, printView } from '../ui/output';
import { usage } from './run';
import type { CommandModule } from './types';

interface CampaignOpts {
  output?: string;
  resume?: boolean;
  sim?: boolean;
  json?: boolean;
  cvThreshold?: string;
}

function thresholdOf(opts: CampaignOpts): number | undefined {
  if (opts.cvThreshold === undefined) return undefined;
  const v = Number(opts.cvThreshold);
  if (!(v > 0) || !Number.isFinite(v))
    throw new UsageError(`--cv-threshold ${opts.cvThreshold}: expected a positive number, e.g. 0.1`);
  return v;
}

/** `mplab campaign report DIR`: summary, CSV and charts again from the runs DIR holds. */
function report(dir: string | undefined, opts: CampaignOpts): void {
  if (!dir) throw new UsageError('campaign report: give the campaign directory (campaign report DIR)');
  if (opts.output || opts.resume || opts.sim)
    throw new UsageError('campaign report DIR: -o, --resume and --sim go with running a campaign');
  const threshold = thresholdOf(opts);
  const r = reportCampaign(dir, threshold !== undefined ? { varianceThreshold: threshold } : {});
  if (opts.json) printJson({ dir, planned: r.planned, made: r.runs.length, cells: r.cells });
  else
    printView(
      <CampaignSummary
        outcome={{
          runs: r.runs,
          cells: r.cells,
          ranNow: 0,
          skipped: r.runs.length,
          failed: 0,
          stopped: false,
        }}
        dir={dir}
        planned={r.planned}
      />,
    );
}

async function action(file: string, dir: string | undefined, opts: CampaignOpts): Promise<void> {
  if (file === 'report') return report(dir, opts);
  if (dir !== undefined)
    throw new UsageError(`campaign: unexpected argument '${dir}' (the output directory goes with -o)`);
  if (!opts.output) throw new UsageError('campaign: give an output directory with -o DIR');
  const threshold = thresholdOf(opts);
  const outDir = opts.output;
  const ac = new AbortController();
  let signals = 0;
  const onSig = () => {
    signals++;
    if (signals === 1) {
      process.stderr.write(
        '\ninterrupted: stopping after cleaning up the run in progress (resume with --resume)\n',
      );
      ac.abort();
    }
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  const tty = !opts.json && process.stdout.isTTY === true;
  let p: CampaignProgress = { done: 0, total: 0, skipped: 0, failed: 0 };
  const name = file;
  const ink = tty
    ? render(<CampaignView name={name} p={p} sim={!!opts.sim} />, { patchConsole: false })
    : undefined;
  try {
    const outcome = await usage(() =>
      runCampaignFile(file, {
        outDir,
        resume: !!opts.resume,
        ...(opts.sim ? { sim: true } : {}),
        ...(threshold !== undefined ? { varianceThreshold: threshold } : {}),
        signal: ac.signal,
        onProgress: (q) => {
          p = q;
          if (ink) ink.rerender(<CampaignView name={name} p={p} sim={!!opts.sim} />);
          else if (!opts.json) process.stdout.write(`${progressLine(q)}\n`);
        },
      }),
    );
    if (ink) {
      ink.unmount();
      await ink.waitUntilExit();
    }
    if (opts.json)
      printJson({
        dir: outDir,
        ...outcome,
        runs: outcome.runs.map((r) => ({
          id: r.id,
          cell: r.cell,
          error: r.error,
          goodputMbps: r.result?.goodputMbps,
          integrity: r.result?.integrity,
        })),
      });
    else printView(<CampaignSummary outcome={outcome} dir={outDir} />);
    if (outcome.stopped) process.exitCode = 1;
  } finally {
    if (ink) ink.unmount();
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
}

export const campaign: CommandModule = {
  name: 'campaign',
  register(program: Command) {
    program
      .command('campaign <file> [dir]')
      .description(
        'run a benchmark campaign: parameter matrix x repetitions; `campaign report DIR` re-renders a finished or partial one',
      )
      .option(
        '-o, --output <dir>',
        'output directory (runs/*.json, results.csv, summary.md/json, sessions.json, goodput.svg/png)',
      )
      .option('--cv-threshold <x>', 'flag cells whose goodput cv (stddev/mean) exceeds this (default 0.1)')
      .option('--resume', 'continue a campaign in DIR without redoing finished runs')
      .option('--sim', 'run every cell in the deterministic simulator')
      .option('--json', 'print the outcome as JSON')
      .action(action);
  },
};
