import type { Command } from 'commander';
import { Box, render } from 'ink';
import { UsageError } from '../../lab/errors';
import { Lab, type UpProgress } from '../../lab/lab';
import { inventoryPath } from '../../lab/remote/inventory';
import { type ClusterPlan, planCluster } from '../../lab/remote/plan';
import { TopologyError } from '../../lab/topology/model';
import type { VmBootProgress } from '../../lab/backends/vm/index';
import { foldProgress, foldVmBoot, type StepView, UpView } from '../ui/UpView';
import { printJson, printView } from '../ui/output';
import { PlanView, planJson } from '../ui/PlanView';
import { Table } from '../ui/Table';
import type { CommandModule } from './types';

interface UpOpts {
  name?: string;
  backend?: string;
  json?: boolean;
  hosts?: string;
  dryRun?: boolean;
  acceptNewHostKeys?: boolean;
}

async function dryRun(file: string, opts: UpOpts): Promise<void> {
  let plan: ClusterPlan;
  try {
    plan = await planCluster(file, inventoryPath(opts.hosts), {
      ...(opts.name !== undefined ? { name: opts.name } : {}),
      ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
    });
  } catch (e) {
    if (e instanceof TopologyError) throw new UsageError(`invalid input:\n${e.format()}`);
    throw e;
  }
  if (opts.json) printJson(planJson(plan));
  else printView(<PlanView plan={plan} />);
}

async function action(file: string, opts: UpOpts): Promise<void> {
  if (opts.dryRun) return dryRun(file, opts);
  const t0 = performance.now();
  let steps: StepView[] = [];
  // A live view needs a terminal with a width (a pty without a size reports 0 columns).
  const live = !opts.json && process.stdout.isTTY === true && (process.stdout.columns ?? 0) > 20;
  const label = opts.name ?? file;
  const ink = live ? render(<UpView lab={label} steps={steps} />, { patchConsole: false }) : undefined;
  let vms: VmBootProgress[] = [];
  const notes = new Set<string>();
  const onProgress = (p: UpProgress) => {
    steps = foldProgress(steps, p);
    ink?.rerender(<UpView lab={label} steps={steps} vms={vms} />);
  };
  const onVmBoot = (p: VmBootProgress) => {
    vms = foldVmBoot(vms, p);
    // The accelerator note (e.g. the fall back to TCG) is said once, on stderr.
    if (p.note && !notes.has(p.note)) {
      notes.add(p.note);
      process.stderr.write(`note: ${p.note}\n`);
    }
    ink?.rerender(<UpView lab={label} steps={steps} vms={vms} />);
  };
  let lab: Lab;
  // Ctrl-C while building: stop at the next step and remove what was built (exit 1).
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const upOpts: Parameters<typeof Lab.up>[1] = { onProgress, onVmBoot, signal: abort.signal };
    if (opts.name !== undefined) upOpts.name = opts.name;
    if (opts.backend !== undefined) upOpts.backend = opts.backend;
    const hosts = inventoryPath(opts.hosts);
    if (hosts !== undefined) {
      upOpts.hosts = hosts;
      upOpts.acceptNewHostKeys = opts.acceptNewHostKeys === true;
      upOpts.onNewHostKey = (host, key, fp) =>
        process.stderr.write(
          `mplab: accepted the new host key of ${host} (${fp}); pin it in the inventory: hostKey: "${key}"\n`,
        );
    }
    lab = await Lab.up(file, upOpts);
  } catch (e) {
    ink?.unmount();
    if (e instanceof TopologyError) throw new UsageError(`invalid topology:\n${e.format()}`, e.issues);
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const totalMs = performance.now() - t0;
  const cluster = lab.hosts;
  const nodes = lab.model.nodes.map((n) => {
    const agent = lab.state.processes.find((p) => p.kind === 'agent' && p.owner === n.name);
    const where = cluster ? [cluster.hostOf[n.name] ?? '?'] : [];
    const pid = agent?.pid ? `agent pid ${agent.pid}` : cluster && n.stack === 'ts' ? 'agent (remote)' : '-';
    return [n.name, ...where, n.kind, n.stack, n.addresses.join(' '), pid];
  });
  const summary = (
    <Box flexDirection="column">
      <UpView lab={lab.name} steps={steps} totalMs={totalMs} vms={vms} />
      <Table
        head={['node', ...(cluster ? ['host'] : []), 'kind', 'stack', 'addresses', 'agent']}
        rows={nodes}
      />
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
      .option('-b, --backend <kind>', 'put every node on this backend (netns, docker or vm)')
      .option('--hosts <file>', 'spread the lab over the hosts of this inventory (default: $MPLAB_HOSTS)')
      .option('--dry-run', 'print the placement and the address plan; build nothing')
      .option('--accept-new-host-keys', 'trust hosts whose key is not pinned yet (prints the key to pin)')
      .option('--json', 'print JSON instead of the human view')
      .action(action);
  },
};
