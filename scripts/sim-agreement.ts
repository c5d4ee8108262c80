/**
 * `npx tsx scripts/sim-agreement.ts --write-docs`: renders docs/simulator-agreement.json (written by
 * test/integration/simlab/agreement.test.ts) into the agreement table of docs/simulator.md.
 * Without --write-docs it prints the table. A unit test (test/unit/sim-docs.test.ts) checks that the
 * doc carries exactly this rendering of the committed JSON.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AgreementFile, renderAgreement, withAgreementTable } from '../lab/sim/agreement';

const root = fileURLToPath(new URL('..', import.meta.url));
const json = join(root, 'docs/simulator-agreement.json');
const doc = join(root, 'docs/simulator.md');

const f = JSON.parse(readFileSync(json, 'utf8')) as AgreementFile;
if (process.argv.includes('--write-docs')) {
  writeFileSync(doc, withAgreementTable(readFileSync(doc, 'utf8'), f));
  process.stdout.write(`regenerated the agreement table of ${doc} from ${json}\n`);
} else process.stdout.write(`${renderAgreement(f)}\n`);
