/**
 * mplab as a typed library: the same run in the simulator and, with root, in a real lab, printed
 * side by side. `npx tsx examples/typed/sim-vs-lab.ts [--lab]`. CI type-checks this file against the
 * published declarations (examples/typed/tsconfig.json), so the API it shows is the API shipped.
 */
import { Lab, loadTopology, type RunResult, type RunSpec, simulateRun } from 'mplab';

const topology = new URL('../../topologies/two-host.yaml', import.meta.url).pathname;
const spec: RunSpec = { from: 'a', to: 'b', timeMs: 3000, stack: 'ts' };

function line(label: string, r: RunResult): string {
  const carrying = r.subflows.filter((s) => s.bytes > 0).length;
  return `${label.padEnd(4)} ${r.goodputMbps.toFixed(1)} Mbit/s, ${carrying} subflows, integrity ${r.integrity}`;
}

const model = await loadTopology(topology, { name: `typed${process.pid % 10000}` });
console.log(line('sim', simulateRun(model, spec, { seed: 1 }).result));

if (process.argv.includes('--lab')) {
  const lab: Lab = await Lab.up(topology, { name: `typedl${process.pid % 10000}` });
  try {
    const out = await lab.run(spec);
    console.log(line('lab', out));
  } finally {
    await lab.down();
  }
}
