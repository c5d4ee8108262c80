/**
 * Emits the library's TypeScript declarations (dist/types, `types` in package.json) so that
 * `import { Lab } from 'mplab'` type-checks in a user's project: `node --import tsx scripts/types.ts`.
 * tsc writes the relative imports as the sources spell them (extensionless, as the bundler
 * resolution allows); a consumer on `moduleResolution: node16/nodenext` needs real file names, so
 * each specifier is rewritten to the .js (or /index.js) that the declaration file stands for.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function declarationFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? declarationFiles(p) : p.endsWith('.d.ts') ? [p] : [];
  });
}

const SPECIFIER = /(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]*)\2/g;

/** './x' → './x.js' or './x/index.js', whichever declaration exists beside `file`. */
export function withExtension(file: string, spec: string): string {
  if (/\.(js|json)$/.test(spec)) return spec;
  const base = resolve(dirname(file), spec);
  if (existsSync(`${base}.d.ts`)) return `${spec}.js`;
  if (existsSync(join(base, 'index.d.ts'))) return `${spec}/index.js`;
  throw new Error(`${file}: cannot resolve the declaration for '${spec}'`);
}

export function emitTypes(outdir = join(root, 'dist/types')): string {
  rmSync(outdir, { recursive: true, force: true });
  const tsc = join(root, 'node_modules/.bin/tsc');
  execFileSync(tsc, ['-p', join(root, 'tsconfig.lib.json'), '--outDir', outdir], { stdio: 'inherit' });
  for (const f of declarationFiles(outdir)) {
    const text = readFileSync(f, 'utf8');
    const fixed = text.replace(SPECIFIER, (_m, head: string, q: string, spec: string) => {
      return `${head}${q}${withExtension(f, spec)}${q}`;
    });
    if (fixed !== text) writeFileSync(f, fixed);
  }
  const entry = join(outdir, 'lab/index.d.ts');
  if (!existsSync(entry)) throw new Error(`declarations: ${entry} was not written`);
  return entry;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--outdir');
  emitTypes(i > 0 ? resolve(process.argv[i + 1] ?? 'dist/types') : undefined);
}
