// Every malformed topology in test/fixtures/topologies/bad/ must be refused with exactly the
// problems its `# expect: line:col message` comments list (file:line:col and message fragment).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTopology, TopologyError } from '../../../lab/topology';

const dir = join(import.meta.dirname, '../../fixtures/topologies/bad');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

function expectations(text: string): { line: number; col: number; fragment: string }[] {
  const out: { line: number; col: number; fragment: string }[] = [];
  for (const m of text.matchAll(/^# expect: (\d+):(\d+) (.+)$/gm))
    out.push({ line: Number(m[1]), col: Number(m[2]), fragment: m[3]! });
  return out;
}

describe('malformed topologies', () => {
  it('has at least 25 fixtures, each with expectations', () => {
    expect(files.length).toBeGreaterThanOrEqual(25);
    for (const f of files) expect(expectations(readFileSync(join(dir, f), 'utf8')), f).not.toHaveLength(0);
  });

  it.each(files)('%s is refused with the expected file:line:col messages', async (f) => {
    const file = join(dir, f);
    const want = expectations(readFileSync(file, 'utf8'));
    const err = await loadTopology(file).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TopologyError);
    const issues = (err as TopologyError).issues;
    const got = issues.map((i) => `${i.line}:${i.col} ${i.message}`);
    expect(issues.length, got.join('\n')).toBe(want.length);
    want.forEach((w, k) => {
      const i = issues[k]!;
      expect(i.file).toBe(file);
      expect(`${i.line}:${i.col}`, got.join('\n')).toBe(`${w.line}:${w.col}`);
      expect(i.message).toContain(w.fragment);
    });
    // format() prints one file:line:col: message line per issue.
    const lines = (err as TopologyError).format().split('\n');
    expect(lines).toHaveLength(issues.length);
    expect(lines[0]).toBe(`${file}:${issues[0]!.line}:${issues[0]!.col}: ${issues[0]!.message}`);
  });
});
