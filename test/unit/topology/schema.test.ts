// The committed JSON Schema is generated from the zod definitions; regenerate it with
// `npx tsx scripts/gen-schema.ts` when this fails.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { topologyJsonSchema } from '../../../lab/topology/schema';

describe('docs/topology.schema.json', () => {
  const committed = JSON.parse(
    readFileSync(join(import.meta.dirname, '../../../docs/topology.schema.json'), 'utf8'),
  );

  it('is up to date with lab/topology/schema.ts (run: npx tsx scripts/gen-schema.ts)', () => {
    expect(committed).toEqual(topologyJsonSchema());
  });

  it('describes the top level, refuses unknown keys and carries unit patterns', () => {
    type Obj = { properties: Record<string, { pattern?: string }> };
    const s = topologyJsonSchema() as {
      properties: Record<string, { anyOf?: { type: string; items?: Obj }[] }>;
      required: string[];
      additionalProperties: boolean;
    };
    expect(Object.keys(s.properties)).toEqual([
      'name',
      'ipv4',
      'ipv6',
      'defaults',
      'nodes',
      'links',
      'events',
    ]);
    expect(s.required).toEqual(['nodes']);
    expect(s.additionalProperties).toBe(false);
    const link = s.properties.links!.anyOf!.find((x) => x.type === 'array')!.items!.properties;
    expect(new RegExp(link.rate!.pattern!).test('20mbit')).toBe(true);
    expect(new RegExp(link.rate!.pattern!).test('20mbps')).toBe(false);
    expect(new RegExp(link.delay!.pattern!).test('10ms')).toBe(true);
    expect(new RegExp(link.loss!.pattern!).test('1%')).toBe(true);
    expect(new RegExp(link.queue!.pattern!).test('100 packets')).toBe(true);
    expect(new RegExp(link.queue!.pattern!).test('64kb')).toBe(true);
  });
});
