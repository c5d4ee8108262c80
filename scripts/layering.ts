/**
 * The layering rule of the architecture, checked on the import graph:
 * stack/ never imports lab/ or cli/; lab/ never imports cli/.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const FORBIDDEN: Record<string, string[]> = {
  stack: ['lab', 'cli'],
  lab: ['cli'],
};

export interface Violation {
  file: string;
  line: number;
  specifier: string;
  message: string;
}

// import … from '…', export … from '…', import '…', import('…'), require('…')
const IMPORT_RE =
  /(?:^|[^.\w$])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[^.\w$])import\s*['"]([^'"]+)['"]|(?:^|[^.\w$])(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(?:[cm]?[jt]sx?)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

function layerOf(root: string, path: string): string {
  return relative(root, path).split(sep)[0] ?? '';
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Every import in `root`'s stack/ and lab/ trees that crosses a layer the wrong way. */
export function findLayeringViolations(root: string): Violation[] {
  root = resolve(root);
  const violations: Violation[] = [];
  for (const [layer, forbidden] of Object.entries(FORBIDDEN)) {
    for (const file of sourceFiles(join(root, layer))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(IMPORT_RE)) {
        const spec = m[1] ?? m[2] ?? m[3];
        if (!spec) continue;
        let target: string | undefined;
        if (spec.startsWith('.')) target = layerOf(root, resolve(dirname(file), spec));
        else if (spec.startsWith('mplab/')) target = spec.split('/')[1];
        else if (spec === 'mplab') target = 'lab';
        if (target && forbidden.includes(target)) {
          violations.push({
            file: relative(root, file),
            line: lineAt(text, m.index ?? 0),
            specifier: spec,
            message: `${layer}/ must not import ${target}/`,
          });
        }
      }
    }
  }
  return violations;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const v = findLayeringViolations(process.argv[2] ?? '.');
  for (const x of v) console.error(`${x.file}:${x.line}: ${x.message} ('${x.specifier}')`);
  process.exit(v.length ? 1 : 0);
}
