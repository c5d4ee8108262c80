/**
 * Seeds drive the model's random draws: two seeds on a 1 % loss topology give different results,
 * the same seed the same; and a campaign over a model without random draws says so in its summary
 * instead of printing a confidence interval of zero.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CampaignSpec, runCampaign } from '../../../lab/campaign/runner';
import { DETERMINISTIC_NOTE, modelIsRandom, simulateRun } from '../../../lab/sim/run';
import { loadTopology } from '../../../lab/topology/index';
import type { LabModel } from '../../../lab/topology/model';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let twoHost: LabModel;
let lossy: LabModel;
beforeAll(async () => {
  // two-host at 10 Mbit/s a path: the same model, ten times fewer packets to simulate
  twoHost = await loadTopology(join(root, 'topologies/two-host.yaml'));
  for (const l of twoHost.links) {
    l.ab.rateMbps = 10;
    l.ba.rateMbps = 10;
  }
  lossy = structuredClone(twoHost);
  for (const l of lossy.links) {
    l.ab.lossPct = 1;
    l.ba.lossPct = 1;
  }
});
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const spec = { from: 'a', to: 'b', timeMs: 1500, stack: 'ts' as const };

describe('seeds', () => {
  it('two seeds on 1 % loss differ; the same seed repeats exactly', () => {
    const a = simulateRun(lossy, spec, { seed: 1 }).result;
    const b = simulateRun(lossy, spec, { seed: 2 }).result;
    const a2 = simulateRun(lossy, spec, { seed: 1 }).result;
    expect(a.integrity).toBe('ok');
    expect(b.integrity).toBe('ok');
    // what each path carried and when the transfer ended (bytes sent come in 64 KiB writes)
    const fate = (r: typeof a) => JSON.stringify([r.seconds, r.subflows.map((s) => s.bytes)]);
    expect(fate(b)).not.toBe(fate(a));
    expect(fate(a2)).toBe(fate(a));
    expect(a.notes ?? []).not.toContain(DETERMINISTIC_NOTE);
    expect(modelIsRandom(lossy, [])).toBe(true);
  });

  it('a model without random draws is labelled deterministic', () => {
    expect(modelIsRandom(twoHost, [])).toBe(false);
    const r = simulateRun(twoHost, spec, { seed: 5 }).result;
    expect(r.notes).toContain(DETERMINISTIC_NOTE);
  });

  async function campaign(model: LabModel, name: string): Promise<{ md: string; json: string }> {
    const out = mkdtempSync(join(tmpdir(), 'mplab-simseeds-'));
    dirs.push(out);
    const c: CampaignSpec = {
      name,
      axes: [{ name: 'stack', values: ['ts'] }],
      repetitions: 2,
      seed: 3,
      base: { topology: 'two-host.yaml', from: 'a', to: 'b', seconds: 1, sim: true },
    };
    await runCampaign(c, {
      outDir: out,
      resume: false,
      runOne: async (run) =>
        simulateRun(model, { from: 'a', to: 'b', timeMs: 800, stack: 'ts' }, { seed: run.seed }).result,
    });
    return {
      md: readFileSync(join(out, 'summary.md'), 'utf8'),
      json: readFileSync(join(out, 'summary.json'), 'utf8'),
    };
  }

  it("a deterministic model's campaign summary says so instead of ± 0.00; a lossy one gives an interval", async () => {
    const det = await campaign(twoHost, 'det');
    expect(det.md).toMatch(/\| deterministic \|/);
    expect(det.md).toMatch(/a confidence\s+interval would say nothing/);
    expect(JSON.parse(det.json).cells[0].deterministic).toBe(true);
    const rnd = await campaign(lossy, 'rnd');
    expect(rnd.md).not.toMatch(/deterministic/);
    expect(JSON.parse(rnd.json).cells[0].deterministic).toBeUndefined();
    expect(rnd.md).toMatch(/\| 2 \| [0-9.]+ \| [0-9.]+ \|/);
  });
});
