#!/usr/bin/env zx
// A small campaign scripted with zx and mplab's library: two schedulers × two repetitions on the
// two-host lab, each run in a fresh lab (or, with --sim, in the simulator), results as CSV.
//
//   npx zx examples/campaign.zx.mjs            # needs root: namespaces, agents
//   npx zx examples/campaign.zx.mjs --sim      # anywhere
//
// (`mplab campaign examples/campaign-2x2x2.yaml -o DIR` does the same from a file, with resume,
// confidence intervals and plots; this script shows the library underneath.)
import { writeFileSync } from 'node:fs';
import { Lab, loadTopology, simulateRun } from 'mplab';
import { argv, echo } from 'zx';

const sim = Boolean(argv.sim);
const topology = new URL('../topologies/two-host.yaml', import.meta.url).pathname;
const rows = [['scheduler', 'repetition', 'goodput_mbps', 'integrity', 'subflows']];

for (const scheduler of ['default', 'roundrobin']) {
  for (let rep = 1; rep <= 2; rep++) {
    const name = `zx${process.pid % 10000}${rep}`;
    const spec = { from: 'a', to: 'b', timeMs: 2000, stack: 'ts', intervalMs: 200 };
    let result;
    if (sim) {
      const model = await loadTopology(topology, { name });
      for (const n of model.nodes) n.knobs['net.mptcp.mptcp_scheduler'] = scheduler;
      result = simulateRun(model, spec, { seed: rep }).result;
    } else {
      const lab = await Lab.up(topology, { name });
      try {
        await lab.sysctl('all', [`net.mptcp.mptcp_scheduler=${scheduler}`]);
        result = await lab.run(spec);
        const [report] = await lab.report('a');
        echo(`  a has ${report?.report.connections.length ?? 0} connection(s) left after the run`);
      } finally {
        await lab.down();
      }
    }
    echo(`${scheduler} #${rep}: ${result.goodputMbps.toFixed(1)} Mbit/s, integrity ${result.integrity}`);
    rows.push([scheduler, rep, result.goodputMbps, result.integrity, result.subflows.length]);
  }
}
writeFileSync('campaign-zx.csv', `${rows.map((r) => r.join(',')).join('\n')}\n`);
echo('wrote campaign-zx.csv');
