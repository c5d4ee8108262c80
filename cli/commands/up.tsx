import type { Command } from 'commander';
import { Box, render } from 'ink';
import { UsageError } from '../../lab/errors';
import { Lab, type UpProgress } from '../../lab/lab';
import { TopologyError } from '../../lab/topology/model';
import { foldProgress, type StepView, UpView } from '../ui/UpView';
import { printJson, printView } from '../ui/output';
import { Table } from '../ui/Table';
import type { CommandModule } from './types';

interface UpOpts {
  name?: string;
  backend?: string;
  json?: boolean;
}

async function action(file: string, opts: UpOpts): Promise<void> {
  const t0 = performance.now();
  let steps: StepView[] = [];
  // A live view needs a terminal with a width (a pty without a size reports 0 columns).
  const live = !opts.json && process.stdout.isTTY === true && (process.stdout.columns ?? 0) > 20;
  const label = opts.name ?? file;
  const ink = live ? render(<UpView lab={label} steps={steps} />, { patchConsole: false }) : undefined;
  const onProgress = (p: UpProgress) => {
    steps = foldProgress(steps, p);
    ink?.rerender(<UpView lab={label} steps={steps} />);
  };
  let lab: Lab;
  // Ctrl-C while building: stop at the next step and remove what was built (exit 1).
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const upOpts: Parameters<typeof Lab.up>[1] = { onProgress, signal: abort.signal };
    if (opts.name !== undefined) upOpts.name = opts.name;
    if (opts.backend !== undefined) upOpts.backend = opts.backend;
    lab = await Lab.up(file, upOpts);
  } catch (e) {
    ink?.unmount();
    if (e instanceof TopologyError) throw new UsageError(`invalid topology:\n${e.format()}`);
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const totalMs = performance.now() - t0;
  const nodes = lab.model.nodes.map((n) => {
    const agent = lab.state.processes.find((p) => p.kind === 'agent' && p.owner === n.name);
    return [n.name, n.kind, n.stack, n.addresses.join(' '), agent?.pid ? `agent pid ${agent.pid}` : '-'];
  });
  const summary = (
    <Box flexDirection="column">
      <UpView lab={lab.name} steps={steps} totalMs={totalMs} />
      <Table head={['node', 'kind', 'stack', 'addresses', 'agent']} rows={nodes} />
    </Box>
  );
  if (ink) {
    ink.rerender(summary);
    ink.unmount();
    await ink.waitUntilExit();
  } else if (opts.json) {
    printJson({
      lab: lab.name,
      dir: lab.dir,
      ms: totalMs,
      timings: lab.state.timings,
      nodes: lab.model.nodes.length,
      links: lab.model.links.length,
    });
  } else {
    printView(summary);
  }
}

export const up: CommandModule = {
  name: 'up',
  register(program: Command) {
    program
      .command('up <file>')
      .description('build a lab from a topology file and start its agents')
      .option('-n, --name <name>', "lab name (replaces the file's name:)")
      .option('-b, --backend <kind>', 'put every node on this backend (netns)')
      .option('--json', 'print JSON instead of the human view')
      .action(action);
  },
};
