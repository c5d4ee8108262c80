/**
 * `npm run bench [-- --quick] [-- --only name,name] [-- --repetitions N] [-- --write-docs]`: runs the
 * benchmark modules registered below (bench/lib/runner.ts does the work; bench/harness.ts is the
 * module contract), prints one table, writes bench/results.json for a complete run and
 * bench/results-partial.json for any other, and exits 1 when a module failed.
 *
 * Test-only environment (so tests never touch the committed files):
 * - MPLAB_BENCH_MODULES=a.ts,b.ts  replaces the registry with these module files;
 * - MPLAB_BENCH_OUT=DIR            reads and writes the results files in DIR instead of bench/;
 * - MPLAB_BENCH_DOC=FILE           `--write-docs` rewrites FILE instead of docs/benchmarks.md.
 */
import { basename, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchModule } from './harness';
import { writeDocs } from './lib/docs';
import { BenchUsageError, parseArgs, type Registry, RESULTS_FILE, runBench, USAGE } from './lib/runner';

/** One line per module: `<name>: () => import('./<name>'),` (the name is the file's). */
export const modules: Registry = {
  aggregation: () => import('./aggregation'),
  emulator: () => import('./emulator'),
  failover: () => import('./failover'),
  heterogeneous: () => import('./heterogeneous'),
  image: () => import('./image'),
  lab: () => import('./lab'),
  multihost: () => import('./multihost'),
  runtime: () => import('./runtime'),
  sim: () => import('./sim'),
  tun: () => import('./tun'),
  vm: () => import('./vm'),
  wire: () => import('./wire'),
};

const here = fileURLToPath(new URL('.', import.meta.url));

function registryFromEnv(): Registry {
  const files = process.env.MPLAB_BENCH_MODULES;
  if (!files) return modules;
  const out: Registry = {};
  for (const f of files.split(',').filter(Boolean)) {
    const file = resolve(f);
    out[basename(file).replace(/\.[cm]?[jt]s$/, '')] = () =>
      import(pathToFileURL(file).href) as Promise<{ default: BenchModule }>;
  }
  return out;
}

export async function main(argv: string[]): Promise<number> {
  const registry = registryFromEnv();
  const outDir = process.env.MPLAB_BENCH_OUT ? resolve(process.env.MPLAB_BENCH_OUT) : here;
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(argv, Object.keys(registry));
  } catch (e) {
    if (!(e instanceof BenchUsageError)) throw e;
    process.stderr.write(`bench: ${e.message}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (args.list) {
    process.stdout.write(`${Object.keys(registry).join('\n')}\n`);
    return 0;
  }
  if (args.writeDocs) {
    const doc = process.env.MPLAB_BENCH_DOC
      ? resolve(process.env.MPLAB_BENCH_DOC)
      : join(here, '..', 'docs', 'benchmarks.md');
    try {
      writeDocs(join(outDir, RESULTS_FILE), doc);
    } catch (e) {
      process.stderr.write(`bench --write-docs: ${(e as Error).message}\n`);
      return 1;
    }
    process.stdout.write(`regenerated ${doc} from ${join(outDir, RESULTS_FILE)}\n`);
    return 0;
  }
  const { code } = await runBench(registry, args, {
    outDir,
    repoDir: join(here, '..'),
    print: (s) => process.stdout.write(`${s}\n`),
    log: (s) => process.stderr.write(s),
  });
  return code;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
