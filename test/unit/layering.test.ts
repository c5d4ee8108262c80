import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findLayeringViolations } from '../../scripts/layering';

const at = (p: string) => fileURLToPath(new URL(p, import.meta.url));

describe('layering: stack/ never imports lab/ or cli/; lab/ never imports cli/', () => {
  it('holds for the project tree', () => {
    expect(findLayeringViolations(at('../../'))).toEqual([]);
  });

  it('catches a stack file importing lab (type import) and cli (dynamic import), and lab importing cli', () => {
    const v = findLayeringViolations(at('../fixtures/layering-bad/'));
    expect(v.map((x) => `${x.file}:${x.line} ${x.message}`).sort()).toEqual([
      'lab/topology.ts:1 lab/ must not import cli/',
      'stack/wire/codec.ts:1 stack/ must not import lab/',
      'stack/wire/codec.ts:4 stack/ must not import cli/',
    ]);
  });

  it('accepts downward imports', () => {
    expect(findLayeringViolations(at('../fixtures/layering-good/'))).toEqual([]);
  });
});
