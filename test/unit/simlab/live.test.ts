/**
 * `mplab run --sim` has a live view while it runs: simulateRunLive hands the event loop back between
 * slices of virtual time (so ink redraws), and gives exactly simulateRun's result.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { simulateRun, simulateRunLive } from '../../../lab/sim/run';
import { loadTopology } from '../../../lab/topology/index';

const root = fileURLToPath(new URL('../../../', import.meta.url));

it('yields to the event loop while it runs; same result as the one-shot run', async () => {
  const model = await loadTopology(join(root, 'topologies/ietf-livecd.yaml'));
  for (const l of model.links) {
    // the access links only: fewer packets to simulate, same shape
    if ((l.ab.rateMbps ?? 0) > 100) l.ab.rateMbps = l.ba.rateMbps = 100;
  }
  const spec = { from: 'server', to: 'client', stack: 'ts' as const, timeMs: 2000, events: [] };
  let turn = 0;
  let ticking = true;
  const ticker = (async () => {
    while (ticking) {
      await new Promise<void>((r) => setImmediate(r));
      turn++;
    }
  })();
  const turns = new Set<number>();
  const live = await simulateRunLive(model, spec, { seed: 4, onPoint: () => turns.add(turn) });
  ticking = false;
  await ticker;
  // points arrived across many turns of the event loop, not all in one synchronous burst
  expect(turns.size).toBeGreaterThan(5);
  const once = simulateRun(model, spec, { seed: 4 });
  expect(JSON.stringify(live.result)).toBe(JSON.stringify(once.result));
});
