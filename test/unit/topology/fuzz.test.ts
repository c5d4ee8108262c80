// Robustness: mutated example files either load or fail with a TopologyError whose issues point
// inside the file — never another exception (a crash in the loader would be a bug).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTopology, TopologyError } from '../../../lab/topology';

const topoDir = join(import.meta.dirname, '../../../topologies');
const sources = readdirSync(topoDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => ({ file: join(topoDir, f), text: readFileSync(join(topoDir, f), 'utf8') }));

const TOKENS = [
  '',
  '-',
  ':',
  '[',
  ']',
  '{',
  '}',
  '"',
  "'",
  '&a',
  '*a',
  '<<',
  '%',
  '10.0.1.1/24',
  'fd00::1/64',
  '20mbit',
  '-5ms',
  '120%',
  'router',
  'switch',
  'kernel',
  'null',
  '~',
  '0',
  '1e400',
  'true',
  'eth1',
  'a:eth1',
  'net.mptcp.mptcp_ndiffports',
  'wifi',
  'x'.repeat(40),
];

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('dup' as const), line: fc.nat() }),
  fc.record({
    kind: fc.constant('replace' as const),
    line: fc.nat(),
    at: fc.nat(),
    len: fc.nat(6),
    token: fc.constantFrom(...TOKENS),
  }),
  fc.record({ kind: fc.constant('indent' as const), line: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
);

function mutate(
  text: string,
  ms: { kind: string; line: number; at?: number; len?: number; token?: string; by?: number }[],
) {
  const lines = text.split('\n');
  for (const m of ms) {
    if (lines.length === 0) break;
    const i = m.line % lines.length;
    const l = lines[i]!;
    if (m.kind === 'delete') lines.splice(i, 1);
    else if (m.kind === 'dup') lines.splice(i, 0, l);
    else if (m.kind === 'replace') {
      const at = (m.at ?? 0) % (l.length + 1);
      lines[i] = l.slice(0, at) + (m.token ?? '') + l.slice(at + (m.len ?? 0));
    } else if (m.kind === 'indent')
      lines[i] =
        (m.by ?? 0) >= 0
          ? ' '.repeat(m.by ?? 0) + l
          : l.slice(Math.min(-(m.by ?? 0), l.length - l.trimStart().length));
  }
  return lines.join('\n');
}

describe('mutated topologies', () => {
  it('load or fail with positioned TopologyErrors, never crash', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...sources),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (src, ms) => {
          const text = mutate(src.text, ms);
          const lineCount = text.split('\n').length;
          try {
            const m = parseTopology(text, src.file);
            expect(m.nodes.length).toBeGreaterThan(0);
          } catch (e) {
            if (!(e instanceof TopologyError)) throw e;
            expect(e.issues.length).toBeGreaterThan(0);
            for (const i of e.issues) {
              expect(i.line).toBeGreaterThanOrEqual(1);
              expect(i.line).toBeLessThanOrEqual(lineCount + 1);
              expect(i.col).toBeGreaterThanOrEqual(1);
              expect(i.message.length).toBeGreaterThan(0);
            }
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
