/**
 * Kernel modules for the live image without modules.dep (Debian's package leaves it to depmod at
 * install time, which never runs here): each module's dependencies come from the `depends=` string
 * of its .modinfo section, and /init insmods the closure in dependency order. Pure but for reading
 * the .ko files.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The `depends=` list of a module's .modinfo (NUL-separated key=value strings in the .ko). */
export function moduleDepends(ko: Buffer): string[] {
  const key = Buffer.from('\0depends=');
  const at = ko.indexOf(key);
  if (at < 0) return [];
  const start = at + key.length;
  const end = ko.indexOf(0, start);
  const list = ko.toString('utf8', start, end < 0 ? ko.length : end);
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Module names are written with - or _ interchangeably; files use either. */
export function canonicalModule(name: string): string {
  return name.replace(/-/g, '_');
}

/** Every .ko under a modules tree, by canonical name → path relative to the tree. */
export function indexModules(tree: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ko')) out.set(canonicalModule(name.slice(0, -3)), relative(tree, p));
    }
  };
  walk(tree);
  return out;
}

/**
 * The wanted modules and everything they depend on, dependencies first (a depth-first topological
 * order; ties keep the wanted order). `depsOf` returns a module's direct dependencies; a module
 * missing from the kernel throws with its name, and so does a cycle.
 */
export function loadOrder(
  wanted: string[],
  known: (name: string) => boolean,
  depsOf: (name: string) => string[],
): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, chain: string[]) => {
    const n = canonicalModule(name);
    const s = state.get(n);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`module dependency cycle: ${[...chain, n].join(' → ')}`);
    if (!known(n))
      throw new Error(
        chain.length
          ? `module ${n} (needed by ${chain[chain.length - 1]}) is not in this kernel's modules`
          : `module ${n} is not in this kernel's modules (built in, or not built at all?)`,
      );
    state.set(n, 'visiting');
    for (const d of depsOf(n)) visit(d, [...chain, n]);
    state.set(n, 'done');
    order.push(n);
  };
  for (const w of wanted) visit(w, []);
  return order;
}

/** The load order for a kernel's modules tree: relative .ko paths, dependencies first. */
export function modulePlan(tree: string, wanted: string[]): { name: string; path: string }[] {
  const index = indexModules(tree);
  const deps = new Map<string, string[]>();
  const depsOf = (n: string) => {
    let d = deps.get(n);
    if (!d) {
      d = moduleDepends(readFileSync(join(tree, index.get(n) as string)));
      deps.set(n, d);
    }
    return d;
  };
  return loadOrder(wanted, (n) => index.has(n), depsOf).map((name) => ({
    name,
    path: index.get(name) as string,
  }));
}
