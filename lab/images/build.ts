/**
 * Builds the node image for the Docker backend offline, from this host's files: nothing can be
 * pulled from a registry here. The image holds the binaries images/node/image.json names, every
 * shared library they load (found with ldd), a static busybox for a shell and small tools, and the
 * bundled agent. Its tag carries the project version; a label carries a hash of every input, so
 * the image is rebuilt only when an input changed.
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
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { execa } from 'execa';
import { RuntimeFailure, UsageError } from '../errors';
import { findOnPath } from '../exec';
import { VERSION } from '../../stack/version';

export interface ImageDefinition {
  repository: string;
  binaries: { required: string[]; optional: string[] };
  files: string[];
  agent: string;
  agentPath: string;
  /** Binary (one of the listed ones) linked as /bin/sh. */
  shell?: string;
  cmd: string[];
  env: string[];
}

export interface BuildOptions {
  /** Repository root (holds images/ and dist/). */
  root: string;
  force?: boolean;
  docker?: Docker;
  onProgress?: (step: string) => void;
}

export interface BuiltImage {
  tag: string;
  id: string;
  inputsHash: string;
  /** False when an image with the same inputs already existed. */
  built: boolean;
  files: number;
  seconds: number;
}

export const INPUTS_LABEL = 'mplab.inputs';

/**
 * The folder holding images/node/image.json: the repository when running from source, the package
 * when running from dist/ (dist/cli.js sits one level below it).
 */
export function projectRoot(from = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'images', 'node', 'image.json'))) return dir;
    dir = dirname(dir);
  }
  throw new RuntimeFailure('cannot find images/node/image.json beside the mplab installation');
}

export function readDefinition(root: string): ImageDefinition {
  const path = join(root, 'images', 'node', 'image.json');
  if (!existsSync(path)) throw new UsageError(`image definition not found: ${path}`);
  return JSON.parse(readFileSync(path, 'utf8')) as ImageDefinition;
}

export function imageTag(def: ImageDefinition): string {
  return `${def.repository}:${VERSION}`;
}

/** Absolute paths of the shared objects a binary loads, the dynamic loader included. */
async function sharedLibs(binary: string): Promise<string[]> {
  const r = await execa('ldd', [binary], { reject: false });
  if (r.exitCode !== 0) return []; // static binaries ("not a dynamic executable")
  const libs: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1]) libs.push(m[1]);
  }
  return libs;
}

interface Inputs {
  /** absolute host path → path inside the image */
  files: Map<string, string>;
  busybox?: string;
  agent: string;
  /** Names of the real binaries installed: busybox applets never shadow them. */
  names: Set<string>;
}

async function collectInputs(def: ImageDefinition, root: string): Promise<Inputs> {
  const files = new Map<string, string>();
  const names = new Set<string>();
  const missing: string[] = [];
  let busybox: string | undefined;
  for (const [bins, required] of [
    [def.binaries.required, true],
    [def.binaries.optional, false],
  ] as const) {
    for (const bin of bins) {
      const path = findOnPath(bin);
      if (!path) {
        if (required) missing.push(bin);
        continue;
      }
      const real = realpathSync(path);
      if (bin === 'busybox') busybox = real;
      files.set(real, path);
      names.add(bin);
      for (const lib of await sharedLibs(real)) files.set(lib, lib);
    }
  }
  if (missing.length) {
    throw new RuntimeFailure(
      `the node image needs ${missing.join(', ')} on this host (Debian: apt-get install ${missing.map((m) => (m === 'busybox' ? 'busybox-static' : m === 'ip' || m === 'tc' || m === 'ss' ? 'iproute2' : m)).join(' ')})`,
    );
  }
  for (const f of def.files) if (existsSync(f)) files.set(f, f);
  const agent = resolve(root, def.agent);
  if (!existsSync(agent)) throw new RuntimeFailure(`${def.agent} is missing: run npm run build first`);
  const out: Inputs = { files, agent, names };
  if (busybox) out.busybox = busybox;
  return out;
}

function hashInputs(def: ImageDefinition, inputs: Inputs): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(def));
  h.update(VERSION);
  const paths = [...inputs.files.keys(), inputs.agent].sort();
  for (const p of paths) {
    const st = statSync(p);
    h.update(`${p}\0${inputs.files.get(p) ?? ''}\0${st.size}\0`);
    if (st.isFile()) h.update(readFileSync(p));
  }
  return h.digest('hex');
}

function copyInto(rootfs: string, from: string, to: string): number {
  const dest = join(rootfs, to);
  mkdirSync(dirname(dest), { recursive: true });
  const st = lstatSync(from);
  if (st.isDirectory()) {
    let n = 0;
    for (const name of readdirSafe(from)) n += copyInto(rootfs, join(from, name), join(to, name));
    return n;
  }
  if (st.isSymbolicLink()) {
    const target = readlinkSync(from);
    if (!existsSync(dest)) symlinkSync(target, dest);
    const real = resolve(dirname(from), target);
    return existsSync(real) ? 1 + copyInto(rootfs, real, resolve(dirname(to), target)) : 1;
  }
  if (!existsSync(dest)) copyFileSync(from, dest);
  return 1;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

async function stageRootfs(def: ImageDefinition, inputs: Inputs, rootfs: string): Promise<number> {
  let count = 0;
  for (const d of [
    'bin',
    'sbin',
    'usr/bin',
    'usr/sbin',
    'tmp',
    'run',
    'var/run',
    'root',
    'etc',
    'proc',
    'sys',
    'dev',
  ]) {
    mkdirSync(join(rootfs, d), { recursive: true });
  }
  for (const [from, to] of inputs.files) count += copyInto(rootfs, from, to);
  if (inputs.busybox) {
    // busybox answers to the name it is called by: link its applets (sh, ps, sleep, …).
    const r = await execa(inputs.busybox, ['--list-full'], { reject: false });
    for (const applet of r.stdout.split('\n').filter(Boolean)) {
      const dest = join(rootfs, applet);
      if (existsSync(dest) || inputs.names.has(applet.slice(applet.lastIndexOf('/') + 1))) continue;
      mkdirSync(dirname(dest), { recursive: true });
      symlinkSync('/usr/bin/busybox', dest);
    }
    if (!existsSync(join(rootfs, 'bin/busybox')))
      symlinkSync('/usr/bin/busybox', join(rootfs, 'bin/busybox'));
  }
  if (def.shell) {
    const sh = join(rootfs, 'bin/sh');
    rmSync(sh, { force: true });
    symlinkSync(`/usr/bin/${def.shell}`, sh);
  }
  mkdirSync(join(rootfs, dirname(def.agentPath)), { recursive: true });
  copyFileSync(inputs.agent, join(rootfs, def.agentPath));
  writeFileSync(
    join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
  );
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(rootfs, 'etc/hosts'), '127.0.0.1 localhost\n::1 localhost\n');
  writeFileSync(join(rootfs, 'etc/nsswitch.conf'), 'hosts: files dns\n');
  return count + 1;
}

export async function findImage(
  docker: Docker,
  tag: string,
): Promise<{ id: string; inputs?: string } | undefined> {
  try {
    const info = await docker.getImage(tag).inspect();
    return { id: info.Id, inputs: info.Config?.Labels?.[INPUTS_LABEL] };
  } catch {
    return undefined;
  }
}

/** Builds (or finds up to date) the node image. */
export async function buildImage(options: BuildOptions): Promise<BuiltImage> {
  const started = performance.now();
  const docker = options.docker ?? new (await import('dockerode')).default();
  const progress = options.onProgress ?? (() => {});
  const def = readDefinition(options.root);
  const tag = imageTag(def);
  progress('collecting inputs');
  const inputs = await collectInputs(def, options.root);
  const inputsHash = hashInputs(def, inputs);
  const existing = await findImage(docker, tag);
  if (existing && existing.inputs === inputsHash && !options.force) {
    return {
      tag,
      id: existing.id,
      inputsHash,
      built: false,
      files: 0,
      seconds: (performance.now() - started) / 1000,
    };
  }
  const stage = mkdtempSync(join(tmpdir(), 'mplab-image-'));
  try {
    progress('staging root filesystem');
    const rootfs = join(stage, 'rootfs');
    mkdirSync(rootfs);
    const files = await stageRootfs(def, inputs, rootfs);
    progress('importing into docker');
    const tar = execa('tar', ['-C', rootfs, '--numeric-owner', '--owner=0', '--group=0', '-cf', '-', '.'], {
      buffer: false,
      stdout: 'pipe',
    });
    const changes = [
      `CMD ${JSON.stringify(def.cmd)}`,
      ...def.env.map((e) => `ENV ${e}`),
      `LABEL ${INPUTS_LABEL}=${inputsHash}`,
      'LABEL mplab.image=node',
    ];
    const [repo, version] = tag.split(':') as [string, string];
    const stream = await docker.importImage(
      tar.stdout as NodeJS.ReadableStream,
      { repo, tag: version, changes } as object,
    );
    await new Promise<void>((res, rej) =>
      docker.modem.followProgress(stream, (err) => (err ? rej(err) : res())),
    );
    await tar;
    const made = await findImage(docker, tag);
    if (!made) throw new RuntimeFailure(`docker did not keep the image ${tag}`);
    if (made.inputs !== inputsHash)
      throw new RuntimeFailure(`image ${tag} lacks its inputs label (docker ignored the changes)`);
    // The image this one replaces lost its tag: remove it unless a container still uses it.
    if (existing && existing.id !== made.id)
      await docker
        .getImage(existing.id)
        .remove()
        .catch(() => {});
    return {
      tag,
      id: made.id,
      inputsHash,
      built: true,
      files,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

export interface NodeImageStatus {
  tag: string;
  /** The tag's version part (mplab's version). */
  version: string;
  /** null: dockerd did not answer, so whether the image exists is unknown. */
  present: boolean | null;
  id?: string;
  /** The hash of today's inputs (undefined when they cannot be collected: see reason). */
  inputsHash?: string;
  /** True when the image's inputs label is the hash of today's inputs. */
  current: boolean;
  reason?: string;
}

/**
 * The Docker node image against its inputs, building nothing: present or not, and current when the
 * label it was built with equals the hash of the inputs this host would build it from now.
 */
export async function nodeImageStatus(options: { root: string; docker?: Docker }): Promise<NodeImageStatus> {
  const def = readDefinition(options.root);
  const tag = imageTag(def);
  const base = { tag, version: VERSION };
  const docker = options.docker ?? new (await import('dockerode')).default();
  const down = await docker.ping().then(
    () => undefined,
    (e: Error) => `dockerd is not reachable (${e.message}); start it to see or build the image`,
  );
  if (down) return { ...base, present: null, current: false, reason: down };
  const found = await findImage(docker, tag);
  let inputsHash: string | undefined;
  let why: string | undefined;
  try {
    inputsHash = hashInputs(def, await collectInputs(def, options.root));
  } catch (e) {
    why = (e as Error).message;
  }
  const out: NodeImageStatus = { ...base, present: !!found, current: false };
  if (found) out.id = found.id;
  if (inputsHash) out.inputsHash = inputsHash;
  if (!found) out.reason = 'not built';
  else if (why) out.reason = `its inputs cannot be read: ${why}`;
  else if (found.inputs === inputsHash) out.current = true;
  else
    out.reason =
      'an input changed since it was built (node, iproute2, busybox, their libraries or dist/agent.js)';
  return out;
}
