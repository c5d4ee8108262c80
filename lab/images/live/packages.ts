/**
 * Debian packages for the live image, fetched without touching the host's installed packages:
 * apt-cache says which version, file and SHA-256 the configured sources offer, `apt-get download`
 * fetches the .deb into mplab's cache, `dpkg-deb -x` unpacks it beside. Both are keyed by the
 * SHA-256 apt publishes, so a warm cache costs no network, and a changed package (a security
 * update) is a changed input of the image.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { RuntimeFailure } from '../../errors';

export interface DebPackage {
  name: string;
  version: string;
  arch: string;
  sha256: string;
  size: number;
  /** Names of the packages it depends on (first alternative, Depends and Pre-Depends). */
  depends: string[];
}

/** Parses `apt-cache show` output (RFC 822-style stanzas). */
export function parseAptShow(text: string): DebPackage[] {
  const out: DebPackage[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const line of stanza.split('\n')) {
      if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last)} ${line.trim()}`);
      else {
        const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
        if (m?.[1]) {
          last = m[1];
          fields.set(last, m[2] ?? '');
        }
      }
    }
    const name = fields.get('Package');
    const version = fields.get('Version');
    const sha256 = fields.get('SHA256');
    if (!name || !version || !sha256) continue;
    const deps = [fields.get('Pre-Depends'), fields.get('Depends')]
      .filter((x): x is string => !!x)
      .flatMap((d) => d.split(','))
      .map((alt) => (alt.split('|')[0] ?? '').trim().split(/[\s(:]/)[0] ?? '')
      .filter(Boolean);
    out.push({
      name,
      version,
      arch: fields.get('Architecture') ?? 'amd64',
      sha256,
      size: Number(fields.get('Size') ?? 0),
      depends: [...new Set(deps)],
    });
  }
  return out;
}

async function aptShow(names: string[]): Promise<Map<string, DebPackage>> {
  const found = new Map<string, DebPackage>();
  if (!names.length) return found;
  const r = await execa('apt-cache', ['show', '--no-all-versions', ...names], { reject: false });
  for (const p of parseAptShow(r.stdout)) if (!found.has(p.name)) found.set(p.name, p);
  return found;
}

/** The candidate version of each named package; one line naming what apt does not know. */
export async function resolvePackages(names: string[]): Promise<Map<string, DebPackage>> {
  const found = await aptShow(names);
  const missing = names.filter((n) => !found.has(n));
  if (missing.length)
    throw new RuntimeFailure(
      `the live image needs the Debian package${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which apt does not know (run apt-get update, or add a Debian bookworm source)`,
    );
  return found;
}

/** Shared-library dependencies are followed: their names start with lib (zlib1g too). */
export function isLibraryPackage(name: string): boolean {
  return name.startsWith('lib') || name === 'zlib1g';
}

/** The packages and, recursively, the library packages they depend on. */
export async function packageClosure(names: string[]): Promise<DebPackage[]> {
  const all = new Map<string, DebPackage>();
  const seen = new Set<string>();
  let todo = [...new Set(names)];
  let got = await resolvePackages(todo); // the named ones must exist
  for (;;) {
    for (const n of todo) seen.add(n);
    for (const [n, p] of got) all.set(n, p);
    todo = [
      ...new Set(
        [...got.values()].flatMap((p) => p.depends).filter((d) => isLibraryPackage(d) && !seen.has(d)),
      ),
    ];
    if (!todo.length) break;
    // A virtual library package (provided by another) has no stanza: it is left out, and the
    // library walk finds the file on the host instead.
    got = await aptShow(todo);
  }
  return [...all.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Debian's kernel metapackage names the real image package among its dependencies. */
export async function resolveKernelPackage(meta: string): Promise<DebPackage> {
  const [p] = [...(await resolvePackages([meta])).values()];
  if (!p) throw new RuntimeFailure(`apt does not know ${meta}`);
  const real = p.depends.find((d) => d.startsWith('linux-image-'));
  if (!real) return p;
  const [k] = [...(await resolvePackages([real])).values()];
  if (!k) throw new RuntimeFailure(`apt does not know ${real} (the kernel ${meta} depends on)`);
  return k;
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Raised instead of downloading when asked not to (image status). */
export class NotCached extends Error {
  constructor(readonly packages: string[]) {
    super(`not in the cache: ${packages.join(', ')}`);
  }
}

function debPath(p: DebPackage, cacheDir: string): string {
  return join(cacheDir, 'debs', `${p.name}_${p.version.replace(/:/g, '%3a')}_${p.arch}.deb`);
}

/**
 * The .debs in the cache, the missing ones downloaded with one `apt-get download` (apt's per-call
 * start-up is the slow part here), each checked against apt's SHA-256.
 */
export async function fetchDebs(
  pkgs: DebPackage[],
  cacheDir: string,
  opts: { download?: boolean } = {},
): Promise<Map<string, string>> {
  const dir = join(cacheDir, 'debs');
  mkdirSync(dir, { recursive: true });
  const out = new Map<string, string>();
  const missing: DebPackage[] = [];
  for (const p of pkgs) {
    const dest = debPath(p, cacheDir);
    if (existsSync(dest) && sha256File(dest) === p.sha256) out.set(p.name, dest);
    else missing.push(p);
  }
  if (!missing.length) return out;
  if (opts.download === false) throw new NotCached(missing.map((p) => p.name));
  const tmp = mkdtempSync(join(dir, '.download-'));
  try {
    const r = await execa(
      'apt-get',
      ['download', '-q', '-o', 'APT::Sandbox::User=root', ...missing.map((p) => `${p.name}=${p.version}`)],
      { cwd: tmp, reject: false },
    );
    if (r.exitCode !== 0) {
      const lines = `${r.stderr}\n${r.stdout}`.split('\n').filter((l) => /^(E|Err):/.test(l.trim()));
      const failed = missing.filter((p) => !readdirSync(tmp).some((f) => f.startsWith(`${p.name}_`)));
      throw new RuntimeFailure(
        `cannot download the Debian package${failed.length > 1 ? 's' : ''} ${failed.map((p) => `${p.name} ${p.version}`).join(', ') || missing.map((p) => p.name).join(', ')} (apt-get download: ${lines.at(-1)?.trim() ?? `exit ${r.exitCode}`}); is the package source reachable?`,
      );
    }
    const files = readdirSync(tmp);
    for (const p of missing) {
      const got = files.find((f) => f.startsWith(`${p.name}_`) && f.endsWith('.deb'));
      if (!got) throw new RuntimeFailure(`apt-get download ${p.name} wrote no .deb`);
      const sum = sha256File(join(tmp, got));
      if (sum !== p.sha256)
        throw new RuntimeFailure(
          `${p.name} ${p.version}: the downloaded file's SHA-256 ${sum} is not apt's ${p.sha256}`,
        );
      const dest = debPath(p, cacheDir);
      renameSync(join(tmp, got), dest);
      out.set(p.name, dest);
    }
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The package unpacked (dpkg-deb -x) under the cache, keyed by its SHA-256. */
export async function extractDeb(p: DebPackage, deb: string, cacheDir: string): Promise<string> {
  const root = join(cacheDir, 'unpacked');
  const dest = join(root, `${p.name}-${p.sha256.slice(0, 16)}`);
  if (existsSync(dest)) return dest;
  mkdirSync(root, { recursive: true });
  const tmp = mkdtempSync(join(root, '.unpack-'));
  try {
    const r = await execa('dpkg-deb', ['-x', deb, tmp], { reject: false });
    if (r.exitCode !== 0) throw new RuntimeFailure(`dpkg-deb -x ${deb}: ${r.stderr.trim()}`);
    try {
      renameSync(tmp, dest);
    } catch (e) {
      // another build unpacked the same package meanwhile: keep theirs
      if (!existsSync(dest)) throw e;
    }
    return dest;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
