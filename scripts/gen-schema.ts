// Writes docs/topology.schema.json from the zod definitions in lab/topology/schema.ts.
// Run: npx tsx scripts/gen-schema.ts   (a unit test fails when the committed file is stale)
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderTopologySchema } from '../lab/topology/schema';

const out = resolve(dirname(fileURLToPath(import.meta.url)), '../docs/topology.schema.json');
writeFileSync(out, renderTopologySchema());
console.log(`wrote ${out}`);
