import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  type AnyResults,
  BEGIN,
  END,
  isComplete,
  renderSection,
  replaceSection,
} from '../../../bench/lib/docs';
import { METHOD } from '../../../bench/lib/runner';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function results(over: Partial<AnyResults> = {}): AnyResults {
  return {
    method: METHOD,
    date: '2026-12-01T10:00:00.000Z',
    commit: { hash: 'a'.repeat(40), short: 'aaaaaaa', dirty: false },
    complete: true,
    partial: [],
    quick: false,
    repetitions: 3,
    machine: { cpus: 2, cpuModel: 'Test CPU', memGiB: 8, kernel: '6.1.0', os: 'Debian', node: 'v20' },
    load: { start: [0.1, 0.2, 0.3], end: [1, 2, 3] },
    figures: [
      {
        module: 'm',
        figure: 'm.rate',
        title: 'a rate',
        ours: { label: 'ours', unit: 'Mbit/s', values: [40, 50, 60], median: 50 },
        baseline: {
          label: 'kernel',
          unit: 'Mbit/s',
          values: [99, 100, 101],
          median: 100,
          ratio: 0.5,
          ratioText: '0.50×',
          verdict: 'worse',
          overlap: false,
          difference: -50,
        },
        higherIsBetter: true,
        note: 'two paths',
      },
    ],
    ...over,
  };
}

describe('benchmarks doc generation', () => {
  it("renders the metadata, every ratio and each figure's conditions", () => {
    const s = renderSection(results());
    expect(s.startsWith(BEGIN)).toBe(true);
    expect(s.endsWith(END)).toBe(true);
    expect(s).toContain('at commit aaaaaaa, 2026-12-01 10:00 UTC');
    expect(s).toContain('2 × Test CPU, 8 GiB; kernel 6.1.0, Debian; Node v20');
    expect(s).toContain('0.1 / 0.2 / 0.3 at the start, 1 / 2 / 3 at the end');
    expect(s).toMatch(
      /\| m\.rate +\| 50\.00 Mbit\/s \[40\.00–60\.00\] +\| kernel: 100 Mbit\/s \[99\.00–101\] +\| 0\.50× +\| worse/,
    );
    expect(s).toContain('- `m.rate`: a rate. two paths.');
    expect(s).not.toContain('predates');
  });

  it('flags a run measured under an older methodology', () => {
    expect(renderSection(results({ method: 1 }))).toContain('This run predates the methodology');
    const { method: _m, ...old } = results();
    expect(renderSection(old as AnyResults)).toContain('version 1 of the');
  });

  it('replaces only the marked section, and refuses a doc without one', () => {
    const doc = `# T\n\nhand text\n\n${BEGIN} -->\nold table\n${END}\n\nafter\n`;
    const next = replaceSection(doc, `${BEGIN} -->\nnew\n${END}`);
    expect(next).toBe(`# T\n\nhand text\n\n${BEGIN} -->\nnew\n${END}\n\nafter\n`);
    expect(() => replaceSection('# no markers\n', 'x')).toThrow(/no "<!-- bench:results:begin/);
  });

  it('is made from complete runs only', () => {
    expect(isComplete(results())).toBe(true);
    expect(isComplete(results({ complete: false }))).toBe(false);
    expect(isComplete({ ...results(), complete: undefined, quick: true })).toBe(false);
  });

  it('matches bench/results.json: the committed table is the generated one', () => {
    const r = JSON.parse(readFileSync(`${ROOT}bench/results.json`, 'utf8')) as AnyResults;
    const doc = readFileSync(`${ROOT}docs/benchmarks.md`, 'utf8');
    expect(replaceSection(doc, renderSection(r))).toBe(doc);
  });
});
