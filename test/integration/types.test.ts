/**
 * The typed library: the declarations `npm run build` ships (dist/types) let a consumer on
 * `moduleResolution: nodenext` import mplab and type-check, the example in examples/typed passes,
 * a misuse is a type error (so the check can fail), and every name docs/scripting.md imports from
 * 'mplab' is exported.
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emitTypes } from '../../scripts/types';
import { root } from './lab/bundle';

const tsc = join(root, 'node_modules/.bin/tsc');
let project = '';
let entry = '';

/** A consumer's project: mplab in its node_modules (a link to this checkout), the example copied in. */
function consumer(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mplab-consumer-'));
  mkdirSync(join(dir, 'node_modules/@types'), { recursive: true });
  symlinkSync(root, join(dir, 'node_modules/mplab'));
  for (const t of ['node', 'dockerode', 'ssh2', 'react'])
    symlinkSync(join(root, 'node_modules/@types', t), join(dir, 'node_modules/@types', t));
  writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "module" }\n');
  copyFileSync(join(root, 'examples/typed/tsconfig.json'), join(dir, 'tsconfig.json'));
  copyFileSync(join(root, 'examples/typed/sim-vs-lab.ts'), join(dir, 'sim-vs-lab.ts'));
  return dir;
}

function typecheck(dir: string): { code: number; out: string } {
  try {
    execFileSync(tsc, ['-p', join(dir, 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
    return { code: 0, out: '' };
  } catch (e) {
    const err = e as { status: number; stdout: string };
    return { code: err.status, out: err.stdout };
  }
}

beforeAll(() => {
  entry = emitTypes();
  project = consumer();
}, 120_000);

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

describe('the typed library', () => {
  it('package.json points `types` and the export condition at the emitted entry', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(join(root, pkg.types)).toBe(entry);
    expect(join(root, pkg.exports['.'].types)).toBe(entry);
  });

  it('the example type-checks in a consumer project on nodenext resolution', () => {
    const r = typecheck(project);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  }, 60_000);

  it('a misuse of the API is a type error', () => {
    writeFileSync(
      join(project, 'misuse.ts'),
      "import { simulateRun } from 'mplab';\nconst n: number = simulateRun;\nexport { n };\n",
    );
    try {
      const r = typecheck(project);
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(/misuse\.ts.*TS2322/);
    } finally {
      rmSync(join(project, 'misuse.ts'));
    }
  }, 60_000);

  it("every name docs/scripting.md and the examples import from 'mplab' is exported", () => {
    const names = new Set<string>();
    for (const f of ['docs/scripting.md', 'examples/campaign.zx.mjs', 'examples/typed/sim-vs-lab.ts']) {
      for (const m of readFileSync(join(root, f), 'utf8').matchAll(/import\s*\{([^}]*)\}\s*from\s*'mplab'/g))
        for (const n of m[1]!.split(',')) names.add(n.replace(/^\s*type\s+/, '').trim());
    }
    names.delete('');
    const dts = readFileSync(entry, 'utf8');
    const missing = [...names].filter((n) => !new RegExp(`\\b${n}\\b`).test(dts));
    expect(missing).toEqual([]);
    expect(names.size).toBeGreaterThan(5);
  });
});
