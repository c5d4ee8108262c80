import type { Command } from 'commander';
import { render } from 'ink';
import type { CampaignProgress } from '../../lab/campaign/runner';
import { UsageError } from '../../lab/errors';
import { runCampaignFile } from '../../lab/run/campaign';
import { CampaignSummary, CampaignView, progressLine } from '../ui/campaign-view';
import { printJson, printView } from '../ui/output';
import { usage } from './run';
import type { CommandModule } from './types';

interface CampaignOpts {
  out?: string;
  resume?: boolean;
  sim?: boolean;
  json?: boolean;
}

async function action(file: string, opts: CampaignOpts): Promise<void> {
  if (!opts.out) throw new UsageError('campaign: give an output directory with -o DIR');
  const outDir = opts.out;
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
      .command('campaign <file>')
      .description('run a benchmark campaign: parameter matrix x repetitions')
      .option('-o, --out <dir>', 'output directory (runs/*.json, results.csv, summary.md/json, goodput.svg)')
      .option('--resume', 'continue a campaign in DIR without redoing finished runs')
      .option('--sim', 'run every cell in the deterministic simulator')
      .option('--json', 'print the outcome as JSON')
      .action(action);
  },
};
