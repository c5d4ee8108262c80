import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { modules } from '../../../bench/run';

describe('bench registry', () => {
  it('registers every module file in bench/ under its file name', () => {
    const dir = fileURLToPath(new URL('../../../bench/', import.meta.url));
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== 'run.ts' && f !== 'harness.ts')
      .map((f) => f.slice(0, -3))
      .sort();
    expect(Object.keys(modules).sort()).toEqual(files);
  });
});
