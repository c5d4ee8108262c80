/**
 * Builds the mplab live image offline: Debian's kernel and packages (packages.ts), the host's Node
 * binary stripped, dist/ and topologies/, /init (images/live/init) and the module load order
 * (modules.ts), packed as one zstd-compressed newc initramfs (cpio.ts); optionally the hybrid
 * BIOS+UEFI ISO around it (iso.ts). Every input is hashed (the packages by apt's SHA-256, the
 * files by content): an image with the same hash in the cache is returned as is, so a rebuild
 * happens only when an input changed. Images are written under a temporary name and renamed into
 * place, so a failed or interrupted build leaves no half-written entry.
 */
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative } from 'node:path';
import { execa } from 'execa';
import { VERSION } from '../../../stack/version';
import { RuntimeFailure, UsageError } from '../../errors';
import { cacheDir as mplabCacheDir } from '../../vm/accel';
import { type CpioEntry, cpioEntry, cpioTrailer } from './cpio';
import { buildIso } from './iso';
import { kernelVersionOf } from './kernel';
import { walkLibraries } from './libs';
import { modulePlan } from './modules';
import {
  type DebPackage,
  extractDeb,
  fetchDebs,
  NotCached,
  packageClosure,
  resolveKernelPackage,
} from './packages';
import { liveTools, requireTools } from './tools';

/** Bumped when the image's layout changes in a way the inputs do not show. */
const FORMAT = 1;

export interface LiveDefinition {
  kernelPackage: string;
  packages: string[];
  modules: string[];
  drop: string[];
  /** npm packages dist/cli.js imports at run time (externals of the bundle). */
  nodeModules?: string[];
}

/**
 * The folders of the npm packages `names` and their (optional) dependencies, as resolved from the
 * installation at `root` (hoisted or not): name → package folder.
 */
export function nodeModuleClosure(root: string, names: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (name: string, from: string, optional: boolean) => {
    if (out.has(name)) return;
    let pkgJson: string | undefined;
    try {
      pkgJson = createRequire(join(from, 'package.json')).resolve(`${name}/package.json`);
    } catch {
      // a package whose `exports` hides package.json (koffi): look for it as Node's resolution would
      for (let d = from; ; d = dirname(d)) {
        const p = join(d, 'node_modules', name, 'package.json');
        if (existsSync(p)) {
          pkgJson = p;
          break;
        }
        if (dirname(d) === d) break;
      }
    }
    if (pkgJson === undefined) {
      if (optional) return;
      throw new RuntimeFailure(
        `the live image needs the npm package ${name} (not found from ${from}): run npm ci`,
      );
    }
    const dir = dirname(pkgJson);
    out.set(name, dir);
    const pkg = JSON.parse(readFileSync(pkgJson, 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    for (const d of Object.keys(pkg.dependencies ?? {})) visit(d, dir, false);
    for (const d of Object.keys(pkg.optionalDependencies ?? {})) visit(d, dir, true);
  };
  for (const n of names) visit(n, root, false);
  return out;
}

export interface LiveStep {
  /** Stable id: tools, resolve, fetch, unpack, libraries, initramfs, iso. */
  id: string;
  label: string;
  detail?: string;
  /** 'start' when it begins, 'done' when it ends ('skip': not needed this time). */
  state: 'start' | 'done' | 'skip';
}

export interface LiveBuildOptions {
  /** Repository (or package) root holding images/live/ and topologies/. */
  root: string;
  /** Where dist/agent.js, dist/cli.js and dist/emulator.js are (default root/dist). */
  dist?: string;
  /** A bzImage to boot instead of Debian's kernel. */
  kernel?: string;
  /** A /lib/modules/<version> tree for that kernel (default: Debian's, when the versions match). */
  modules?: string;
  /** Also make the ISO. */
  iso?: boolean;
  /** The caller boots the image afterwards (`--check`): QEMU is required up front with the rest. */
  check?: boolean;
  /** The cache (default defaultCacheDir()). */
  cacheDir?: string;
  /** The node binary to ship (default the running one). */
  node?: string;
  force?: boolean;
  onProgress?: (step: LiveStep) => void;
}

export interface LiveInput {
  what: string;
  version: string;
  bytes: number;
  source: string;
}

export interface LiveManifest {
  format: number;
  mplab: string;
  hash: string;
  version: string;
  kernelVersion: string;
  builtAt: string;
  inputs: LiveInput[];
  modules: string[];
  files: number;
  initrdBytes: number;
  kernelBytes: number;
  isoBytes?: number;
}

export interface LiveImage {
  kernel: string;
  initrd: string;
  iso?: string;
  /** mplab version + the first 12 hex digits of the inputs hash. */
  version: string;
  hash: string;
  dir: string;
  /** False when the cache already held an image with these inputs. */
  built: boolean;
  manifest: LiveManifest;
  seconds: number;
}

/** The live image's part of mplab's cache ($MPLAB_CACHE_DIR, else $XDG_CACHE_HOME/mplab, ~/.cache/mplab). */
export function defaultCacheDir(): string {
  return join(mplabCacheDir(), 'live');
}

export function readLiveDefinition(root: string): LiveDefinition {
  const path = join(root, 'images', 'live', 'live.json');
  if (!existsSync(path)) throw new RuntimeFailure(`live image definition not found: ${path}`);
  return JSON.parse(readFileSync(path, 'utf8')) as LiveDefinition;
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Files under a directory, relative, sorted. */
function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (lstatSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

/**
 * apt-cache is slow (about a second a call here); the resolution is kept keyed by the package
 * names and the apt lists' sizes and times, so it is redone only after apt-get update.
 */
async function resolveCached(
  def: LiveDefinition,
  cacheDir: string,
): Promise<{ kernel: DebPackage; packages: DebPackage[] }> {
  const listsDir = '/var/lib/apt/lists';
  const lists = existsSync(listsDir)
    ? readdirSync(listsDir)
        .filter((f) => f.includes('Packages'))
        .sort()
        .map((f) => {
          const st = statSync(join(listsDir, f));
          return `${f}:${st.size}:${st.mtimeMs}`;
        })
    : [];
  const key = sha256(JSON.stringify([def.kernelPackage, def.packages, lists]));
  const file = join(cacheDir, 'resolved', `${key.slice(0, 16)}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const kernel = await resolveKernelPackage(def.kernelPackage);
  const packages = await packageClosure(def.packages);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify({ kernel, packages }));
  renameSync(`${file}.tmp`, file);
  return { kernel, packages };
}

type Node =
  | { kind: 'dir'; mode: number }
  | { kind: 'file'; src: string; mode: number }
  | { kind: 'data'; data: Buffer; mode: number }
  | { kind: 'symlink'; target: string }
  | { kind: 'chardev'; major: number; minor: number; mode: number };

/** The image's tree, by absolute path, before it is written out. */
class Tree {
  readonly nodes = new Map<string, Node>();

  private parents(path: string): void {
    let d = dirname(path);
    const missing: string[] = [];
    while (d !== '/' && !this.nodes.has(d)) {
      missing.push(d);
      d = dirname(d);
    }
    for (const m of missing) this.nodes.set(m, { kind: 'dir', mode: 0o755 });
  }

  set(path: string, node: Node): void {
    this.parents(path);
    this.nodes.set(path, node);
  }

  has(path: string): boolean {
    return this.nodes.has(path);
  }

  dir(path: string, mode = 0o755): void {
    this.set(path, { kind: 'dir', mode });
  }

  /** Adds an unpacked package (its docs and service files dropped). */
  addRoot(root: string, drop: string[]): void {
    const walk = (rel: string) => {
      const abs = join(root, rel);
      for (const name of readdirSync(abs).sort()) {
        const r = rel ? `${rel}/${name}` : name;
        if (drop.some((d) => r === d || r.startsWith(`${d}/`))) continue;
        const p = join(root, r);
        const st = lstatSync(p);
        const path = `/${r}`;
        if (st.isDirectory()) {
          if (!this.has(path)) this.dir(path, st.mode & 0o7777);
          walk(r);
        } else if (st.isSymbolicLink()) this.set(path, { kind: 'symlink', target: readlinkSync(p) });
        else if (st.isFile()) this.set(path, { kind: 'file', src: p, mode: st.mode & 0o7777 });
      }
    };
    walk('');
  }

  /** Writes the tree as newc entries, parents before children. */
  *entries(): Generator<CpioEntry> {
    for (const path of [...this.nodes.keys()].sort()) {
      const n = this.nodes.get(path) as Node;
      const p = path.slice(1);
      if (n.kind === 'dir') yield { kind: 'dir', path: p, mode: n.mode };
      else if (n.kind === 'symlink') yield { kind: 'symlink', path: p, target: n.target };
      else if (n.kind === 'chardev')
        yield { kind: 'chardev', path: p, major: n.major, minor: n.minor, mode: n.mode };
      else if (n.kind === 'data') yield { kind: 'file', path: p, mode: n.mode, data: n.data };
      else yield { kind: 'file', path: p, mode: n.mode, data: readFileSync(n.src) };
    }
  }
}

/** Streams the tree through zstd into `out`; returns the number of entries. */
async function writeInitramfs(tree: Tree, out: string): Promise<number> {
  const z = execa('zstd', ['-q', '-T0', '-9', '-f', '-o', out], { stdin: 'pipe', reject: false });
  const stdin = z.stdin as NodeJS.WritableStream;
  let n = 0;
  let failed: Error | undefined;
  stdin.on('error', (e: Error) => {
    failed = e;
  });
  const write = async (b: Buffer) => {
    if (failed) throw new RuntimeFailure(`zstd stopped reading: ${failed.message}`);
    if (!stdin.write(b)) await new Promise<void>((res) => stdin.once('drain', res));
  };
  let ino = 1;
  for (const e of tree.entries()) {
    await write(cpioEntry(e, ino++));
    n++;
  }
  await write(cpioTrailer());
  stdin.end();
  const r = await z;
  if (r.exitCode !== 0) throw new RuntimeFailure(`zstd failed: ${r.stderr.trim()}`);
  return n;
}

const BIN_DIRS = ['/bin', '/sbin', '/usr/bin', '/usr/sbin'];

function textFiles(version: string, kernelVersion: string): Record<string, string> {
  return {
    '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    '/etc/group': 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n',
    '/etc/shadow': 'root:*:19000:0:99999:7:::\n',
    '/etc/hosts': '127.0.0.1 localhost\n::1 localhost\n',
    '/etc/nsswitch.conf': 'passwd: files\ngroup: files\nhosts: files dns\n',
    '/etc/shells': '/bin/sh\n/bin/dash\n',
    '/etc/profile':
      'export PATH=/opt/mplab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nexport HOME=/root\nPS1="mplab-live# "\n',
    '/etc/mplab/version': `mplab ${VERSION}, live image ${version}, kernel ${kernelVersion}\n`,
    '/opt/mplab/bin/mplab': '#!/bin/sh\nexec /usr/bin/node /opt/mplab/dist/cli.js "$@"\n',
  };
}

function progress(opts: LiveBuildOptions) {
  const cb = opts.onProgress ?? (() => {});
  return {
    start: (id: string, label: string, detail?: string) =>
      cb({ id, label, state: 'start', ...(detail ? { detail } : {}) }),
    done: (id: string, label: string, detail?: string) =>
      cb({ id, label, state: 'done', ...(detail ? { detail } : {}) }),
    skip: (id: string, label: string, detail?: string) =>
      cb({ id, label, state: 'skip', ...(detail ? { detail } : {}) }),
  };
}

/** Everything the image is made of, resolved and fetched, and the hash over it. */
interface Plan {
  def: LiveDefinition;
  kernelPkg: DebPackage;
  packages: DebPackage[];
  roots: Map<string, string>;
  kernelFile: string;
  kernelVersion: string;
  modulesTree?: string;
  nodeBin: string;
  hostLibs: Map<string, string>;
  dist: string[];
  nodeModules: Map<string, string>;
  topologies: string;
  initScript: string;
  inputs: LiveInput[];
  hash: string;
}

async function plan(
  opts: LiveBuildOptions,
  cacheDir: string,
  p: ReturnType<typeof progress>,
  download = true,
): Promise<Plan> {
  const def = readLiveDefinition(opts.root);
  const dist = opts.dist ?? join(opts.root, 'dist');
  const distFiles = ['agent.js', 'cli.js', 'emulator.js'].map((f) => join(dist, f));
  for (const f of distFiles)
    if (!existsSync(f)) throw new RuntimeFailure(`${f} is missing: run npm run build first`);
  if (opts.kernel !== undefined) {
    if (!existsSync(opts.kernel) || !statSync(opts.kernel).isFile())
      throw new UsageError(`--kernel ${opts.kernel}: no such file`);
    if (!kernelVersionOf(readFileSync(opts.kernel)))
      throw new UsageError(`--kernel ${opts.kernel}: not an x86 bzImage (no "HdrS" boot header)`);
  }
  if (opts.modules !== undefined && !existsSync(opts.modules))
    throw new UsageError(`--modules ${opts.modules}: no such directory`);

  p.start('resolve', 'resolving Debian packages');
  const { kernel: kernelPkg, packages } = await resolveCached(def, cacheDir);
  p.done('resolve', 'resolving Debian packages', `${packages.length + 1} packages`);

  const all = [kernelPkg, ...packages];
  const roots = new Map<string, string>();
  p.start('fetch', 'fetching packages', `${all.length} packages`);
  const debs = await fetchDebs(all, cacheDir, { download });
  p.done('fetch', 'fetching packages', `${all.length} packages`);
  let unpacked = 0;
  for (const pkg of all) {
    p.start('unpack', 'unpacking packages', `${++unpacked}/${all.length} ${pkg.name}`);
    roots.set(pkg.name, await extractDeb(pkg, debs.get(pkg.name) as string, cacheDir));
  }
  p.done('unpack', 'unpacking packages', `${all.length} packages`);

  const kroot = roots.get(kernelPkg.name) as string;
  const debKernel = readdirSync(join(kroot, 'boot')).find((f) => f.startsWith('vmlinuz-'));
  if (!debKernel) throw new RuntimeFailure(`${kernelPkg.name} holds no /boot/vmlinuz-*`);
  const debVersion = debKernel.slice('vmlinuz-'.length);
  const kernelFile = opts.kernel ?? join(kroot, 'boot', debKernel);
  const kernelVersion = kernelVersionOf(readFileSync(kernelFile)) ?? debVersion;
  let modulesTree: string | undefined;
  if (opts.modules) modulesTree = opts.modules;
  else if (kernelVersion.split(' ')[0] === debVersion)
    modulesTree = join(kroot, 'lib', 'modules', debVersion);

  p.start('libraries', 'finding shared libraries');
  const nodeBin = opts.node ?? process.execPath;
  const programs = new Map<string, string>([['/usr/bin/node', nodeBin]]);
  const rootList = [...roots.entries()].filter(([n]) => n !== kernelPkg.name).map(([, r]) => r);
  for (const r of rootList)
    for (const d of BIN_DIRS) {
      const dir = join(r, d);
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir)) {
        const file = join(dir, f);
        const st = lstatSync(file);
        if (st.isFile() && readFileSync(file).subarray(0, 4).toString('latin1') === '\x7fELF')
          programs.set(`${d}/${f}`, file);
      }
    }
  const { fromHost } = await walkLibraries(programs, rootList);
  p.done(
    'libraries',
    'finding shared libraries',
    `from this host: ${[...fromHost.keys()].map((l) => basename(l)).join(', ') || 'none'}`,
  );

  const inputs: LiveInput[] = [];
  const h = createHash('sha256');
  h.update(`format ${FORMAT}\0mplab ${VERSION}\0`);
  const liveDir = join(opts.root, 'images', 'live');
  for (const f of listTree(liveDir)) h.update(`${f}\0${sha256(readFileSync(join(liveDir, f)))}\0`);
  // the files the builder writes itself (passwd, profile, the mplab wrapper)
  h.update(JSON.stringify(textFiles('', '')));
  for (const pkg of all) {
    h.update(`${pkg.name}\0${pkg.version}\0${pkg.sha256}\0`);
    inputs.push({ what: pkg.name, version: pkg.version, bytes: pkg.size, source: 'debian' });
  }
  const fileInput = (what: string, path: string, version: string, source: string) => {
    const data = readFileSync(path);
    h.update(`${what}\0${sha256(data)}\0`);
    inputs.push({ what, version, bytes: data.length, source });
  };
  if (opts.kernel) fileInput('kernel', opts.kernel, kernelVersion, opts.kernel);
  if (opts.modules) h.update(`modules\0${opts.modules}\0`);
  fileInput('node', nodeBin, process.version, nodeBin);
  for (const [img, src] of [...fromHost.entries()].sort()) fileInput(img, src, 'host', src);
  for (const f of distFiles) fileInput(`dist/${basename(f)}`, f, VERSION, f);
  const nodeModules = nodeModuleClosure(opts.root, def.nodeModules ?? []);
  for (const [name, dir] of [...nodeModules.entries()].sort()) {
    const files = listTree(dir);
    let bytes = 0;
    for (const f of files) {
      const data = readFileSync(join(dir, f));
      bytes += data.length;
      h.update(`node_modules/${name}/${f}\0${sha256(data)}\0`);
    }
    const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string })
      .version;
    inputs.push({ what: `npm:${name}`, version: version ?? '?', bytes, source: dir });
  }
  const topologies = join(opts.root, 'topologies');
  for (const f of listTree(topologies))
    h.update(`topologies/${f}\0${sha256(readFileSync(join(topologies, f)))}\0`);
  inputs.push({ what: 'topologies', version: VERSION, bytes: 0, source: topologies });
  const hash = h.digest('hex');
  const out: Plan = {
    def,
    kernelPkg,
    packages,
    roots,
    kernelFile,
    kernelVersion,
    nodeBin,
    hostLibs: fromHost,
    dist: distFiles,
    nodeModules,
    topologies,
    initScript: join(liveDir, 'init'),
    inputs,
    hash,
  };
  if (modulesTree) out.modulesTree = modulesTree;
  return out;
}

async function stage(pl: Plan, version: string, tmp: string): Promise<{ tree: Tree; modules: string[] }> {
  const tree = new Tree();
  for (const d of ['/proc', '/sys', '/dev', '/run', '/tmp', '/root', '/etc/dropbear', '/etc/mplab', '/var'])
    tree.dir(d, d === '/tmp' ? 0o1777 : d === '/root' ? 0o700 : 0o755);
  tree.set('/dev/console', { kind: 'chardev', major: 5, minor: 1, mode: 0o600 });
  tree.set('/dev/null', { kind: 'chardev', major: 1, minor: 3, mode: 0o666 });
  for (const [name, root] of pl.roots) if (name !== pl.kernelPkg.name) tree.addRoot(root, pl.def.drop);
  // busybox answers to the name it is called by: link the applets no real program provides.
  const busybox = [...pl.roots.values()].map((r) => join(r, 'bin', 'busybox')).find((f) => existsSync(f));
  if (!busybox) throw new RuntimeFailure('busybox-static holds no /bin/busybox');
  const list = await execa(busybox, ['--list-full'], { reject: false });
  const names = new Set<string>();
  for (const p of tree.nodes.keys()) if (BIN_DIRS.includes(dirname(p))) names.add(basename(p));
  for (const applet of list.stdout.split('\n').filter(Boolean)) {
    const path = `/${applet}`;
    if (tree.has(path) || names.has(basename(path))) continue;
    tree.set(path, { kind: 'symlink', target: '/bin/busybox' });
  }
  tree.set('/bin/sh', { kind: 'symlink', target: 'dash' });
  tree.set('/var/run', { kind: 'symlink', target: '/run' });
  // Node, stripped of its debug info (about 12 MB less), and the libraries only the host has.
  const node = join(tmp, 'node');
  const s = await execa('strip', ['--strip-all', '-o', node, pl.nodeBin], { reject: false });
  if (s.exitCode !== 0) throw new RuntimeFailure(`strip ${pl.nodeBin}: ${s.stderr.trim()}`);
  tree.set('/usr/bin/node', { kind: 'file', src: node, mode: 0o755 });
  for (const [img, src] of pl.hostLibs) if (!tree.has(img)) tree.set(img, { kind: 'file', src, mode: 0o755 });
  for (const f of pl.dist) tree.set(`/opt/mplab/dist/${basename(f)}`, { kind: 'file', src: f, mode: 0o644 });
  for (const [name, dir] of pl.nodeModules)
    for (const f of listTree(dir)) {
      const src = join(dir, f);
      const st = lstatSync(src);
      if (st.isSymbolicLink()) continue;
      tree.set(`/opt/mplab/node_modules/${name}/${f}`, { kind: 'file', src, mode: st.mode & 0o777 });
    }
  for (const f of listTree(pl.topologies))
    tree.set(`/opt/mplab/topologies/${f}`, { kind: 'file', src: join(pl.topologies, f), mode: 0o644 });
  for (const [path, text] of Object.entries(textFiles(version, pl.kernelVersion)))
    tree.set(path, {
      kind: 'data',
      data: Buffer.from(text),
      mode: path.includes('/bin/') ? 0o755 : path === '/etc/shadow' ? 0o600 : 0o644,
    });
  tree.set('/init', { kind: 'file', src: pl.initScript, mode: 0o755 });
  // busybox's unshare would run its own tc for `unshare -n tc …` (mplab's netem probe): a wrapper
  // that resolves the command first takes its place.
  tree.set('/usr/bin/unshare', { kind: 'file', src: join(dirname(pl.initScript), 'unshare'), mode: 0o755 });
  // Modules, dependencies first; /init insmods them in this order.
  const modules: string[] = [];
  if (pl.modulesTree) {
    const kver = basename(pl.modulesTree);
    let order: { name: string; path: string }[];
    try {
      order = modulePlan(pl.modulesTree, pl.def.modules);
    } catch (e) {
      throw new RuntimeFailure(`kernel modules: ${(e as Error).message}`);
    }
    for (const m of order) {
      tree.set(`/lib/modules/${kver}/${m.path}`, {
        kind: 'file',
        src: join(pl.modulesTree, m.path),
        mode: 0o644,
      });
      modules.push(`${kver}/${m.path}`);
    }
  }
  tree.set('/etc/mplab/modules.order', {
    kind: 'data',
    data: Buffer.from(modules.map((m) => `${m}\n`).join('')),
    mode: 0o644,
  });
  return { tree, modules };
}

function readManifest(dir: string): LiveManifest | undefined {
  const f = join(dir, 'manifest.json');
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as LiveManifest;
  } catch {
    return undefined;
  }
}

function imageResult(dir: string, m: LiveManifest, built: boolean, started: number): LiveImage {
  const iso = join(dir, 'mplab-live.iso');
  const out: LiveImage = {
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.img'),
    version: m.version,
    hash: m.hash,
    dir,
    built,
    manifest: m,
    seconds: (performance.now() - started) / 1000,
  };
  if (existsSync(iso)) out.iso = iso;
  return out;
}

/** Builds the live image into the cache, or returns the cached one when no input changed. */
export async function buildLiveImage(opts: LiveBuildOptions): Promise<LiveImage> {
  const started = performance.now();
  const p = progress(opts);
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  p.start('tools', 'checking tools');
  requireTools(liveTools(opts));
  p.done('tools', 'checking tools');
  mkdirSync(cacheDir, { recursive: true });
  const pl = await plan(opts, cacheDir, p);
  const version = `${VERSION}+${pl.hash.slice(0, 12)}`;
  const dir = join(cacheDir, 'images', pl.hash.slice(0, 32));
  const existing = readManifest(dir);
  let built = false;
  if (existing && existing.hash === pl.hash && !opts.force) {
    p.skip('initramfs', 'packing the initramfs', 'cached');
  } else {
    mkdirSync(join(cacheDir, 'images'), { recursive: true });
    const tmp = mkdtempSync(join(cacheDir, 'images', '.build-'));
    try {
      p.start('initramfs', 'packing the initramfs');
      const { tree, modules } = await stage(pl, version, tmp);
      const img = join(tmp, 'out');
      mkdirSync(img);
      const files = await writeInitramfs(tree, join(img, 'initrd.img'));
      copyFileSync(pl.kernelFile, join(img, 'vmlinuz'));
      const manifest: LiveManifest = {
        format: FORMAT,
        mplab: VERSION,
        hash: pl.hash,
        version,
        kernelVersion: pl.kernelVersion,
        builtAt: new Date().toISOString(),
        inputs: pl.inputs,
        modules: modules.map((m) => basename(m, '.ko')),
        files,
        initrdBytes: statSync(join(img, 'initrd.img')).size,
        kernelBytes: statSync(join(img, 'vmlinuz')).size,
      };
      writeFileSync(join(img, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      p.done(
        'initramfs',
        'packing the initramfs',
        `${files} files, ${(manifest.initrdBytes / 1e6).toFixed(1)} MB`,
      );
      if (opts.force) rmSync(dir, { recursive: true, force: true });
      try {
        renameSync(img, dir);
      } catch (e) {
        if (!readManifest(dir)) throw e; // another build finished the same image first: keep it
      }
      built = true;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  if (opts.iso) {
    const iso = join(dir, 'mplab-live.iso');
    if (existsSync(iso) && !built) p.skip('iso', 'making the ISO (BIOS + UEFI)', 'cached');
    else {
      p.start('iso', 'making the ISO (BIOS + UEFI)');
      await buildIso({ kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.img'), out: iso, version });
      const m = readManifest(dir) as LiveManifest;
      m.isoBytes = statSync(iso).size;
      writeFileSync(join(dir, 'manifest.json.tmp'), `${JSON.stringify(m, null, 2)}\n`);
      renameSync(join(dir, 'manifest.json.tmp'), join(dir, 'manifest.json'));
      p.done('iso', 'making the ISO (BIOS + UEFI)', `${(m.isoBytes / 1e6).toFixed(1)} MB`);
    }
  }
  return imageResult(dir, readManifest(dir) as LiveManifest, built, started);
}

/** The newest cached live image (by build time), without building anything. */
export function latestCachedImage(cacheDir = defaultCacheDir()): LiveImage | undefined {
  const images = join(cacheDir, 'images');
  if (!existsSync(images)) return undefined;
  let best: { dir: string; m: LiveManifest } | undefined;
  for (const name of readdirSync(images)) {
    if (name.startsWith('.')) continue;
    const m = readManifest(join(images, name));
    if (m && (!best || m.builtAt > best.m.builtAt)) best = { dir: join(images, name), m };
  }
  return best ? imageResult(best.dir, best.m, false, performance.now()) : undefined;
}

export interface LiveStatus {
  image?: LiveManifest & { dir: string };
  /** True when the cache holds the image of exactly the current inputs (then `image` is it). */
  current: boolean;
  reason?: string;
}

/**
 * The live image for today's inputs, and whether it is current: current when the cache holds the
 * image of exactly these inputs (whatever was built after it); else the newest cached image, with
 * what changed since. Downloads nothing and builds nothing.
 */
export async function liveImageStatus(opts: {
  root: string;
  dist?: string;
  cacheDir?: string;
}): Promise<LiveStatus> {
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const latest = latestCachedImage(cacheDir);
  if (!latest) return { current: false, reason: 'not built' };
  const image = { ...latest.manifest, dir: latest.dir };
  try {
    const pl = await plan({ ...opts }, cacheDir, progress({ root: opts.root }), false);
    const dir = join(cacheDir, 'images', pl.hash.slice(0, 32));
    const same = readManifest(dir);
    if (same?.hash === pl.hash) return { image: { ...same, dir }, current: true };
    const was = new Map(latest.manifest.inputs.map((i) => [i.what, `${i.version}\0${i.bytes}`]));
    const changed = pl.inputs
      .filter((i) => was.get(i.what) !== `${i.version}\0${i.bytes}`)
      .map((i) => i.what);
    return {
      image,
      current: false,
      reason: changed.length ? `changed: ${changed.slice(0, 5).join(', ')}` : 'an input file changed',
    };
  } catch (e) {
    if (e instanceof NotCached)
      return { image, current: false, reason: `new package versions (${e.packages.slice(0, 3).join(', ')})` };
    return { image, current: false, reason: (e as Error).message };
  }
}
