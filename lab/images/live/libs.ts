/**
 * The shared libraries the live image's programs load, found without running them: each ELF's
 * DT_NEEDED entries (readelf -d), resolved in the image's own tree first (the unpacked Debian
 * packages) and on this host second (ldconfig -p), recursively. Host libraries fill only the gaps
 * (Node.js's libstdc++, a library behind a virtual package); what is found nowhere is an error
 * naming the library and who needs it.
 */
import { existsSync, openSync, readSync, closeSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { RuntimeFailure } from '../../errors';

/** Where the loader looks, in order (Debian multiarch first). */
export const LIB_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/lib', '/usr/lib'];

export function isElf(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    const fd = openSync(path, 'r');
    const b = Buffer.alloc(4);
    readSync(fd, b, 0, 4, 0);
    closeSync(fd);
    return b.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } catch {
    return false;
  }
}

/** DT_NEEDED sonames and the program interpreter of an ELF file. */
export async function elfNeeds(path: string): Promise<{ needed: string[]; interp?: string }> {
  const r = await execa('readelf', ['-d', '-l', '-W', path], { reject: false, env: { LC_ALL: 'C' } });
  if (r.exitCode !== 0) throw new RuntimeFailure(`readelf ${path}: ${r.stderr.trim()}`);
  const needed = [...r.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map(
    (m) => m[1] as string,
  );
  const interp = /Requesting program interpreter: ([^\]]+)\]/.exec(r.stdout)?.[1];
  return interp ? { needed, interp } : { needed };
}

/** soname → path of the host's x86-64 libraries (ldconfig's cache). */
export async function hostLibraries(): Promise<Map<string, string>> {
  const r = await execa('ldconfig', ['-p'], { reject: false });
  const out = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)/.exec(line);
    if (m?.[1] && m[3] && (m[2] ?? '').includes('x86-64') && !out.has(m[1])) out.set(m[1], m[3]);
  }
  return out;
}

export interface LibraryWalk {
  /** image path → host file to copy there (only libraries the image's tree lacks). */
  fromHost: Map<string, string>;
}

/**
 * Walks the libraries `programs` need. `programs` maps each program's image path to the file to
 * read; `roots` are the unpacked trees that make up the image (searched in order).
 */
export async function walkLibraries(programs: Map<string, string>, roots: string[]): Promise<LibraryWalk> {
  const host = await hostLibraries();
  const fromHost = new Map<string, string>();
  const seen = new Set<string>();
  const inTree = (imagePath: string): string | undefined => {
    for (const r of roots) {
      const p = join(r, imagePath);
      if (existsSync(p)) return p;
    }
    return undefined;
  };
  const resolve = (soname: string): { imagePath: string; file: string } | undefined => {
    for (const d of LIB_DIRS) {
      const f = inTree(join(d, soname));
      if (f) return { imagePath: join(d, soname), file: f };
    }
    const h = host.get(soname);
    if (h && existsSync(h)) {
      fromHost.set(h, realpathSync(h));
      return { imagePath: h, file: realpathSync(h) };
    }
    return undefined;
  };
  const queue = [...programs.entries()];
  while (queue.length) {
    const [imagePath, file] = queue.shift() as [string, string];
    if (seen.has(imagePath)) continue;
    seen.add(imagePath);
    const { needed, interp } = await elfNeeds(file);
    if (interp && !inTree(interp)) {
      if (!existsSync(interp)) throw new RuntimeFailure(`the loader ${interp} (for ${imagePath}) is missing`);
      fromHost.set(interp, realpathSync(interp));
    }
    for (const soname of needed) {
      const got = resolve(soname);
      if (!got)
        throw new RuntimeFailure(
          `${soname} (needed by ${imagePath}) is in none of the fetched Debian packages and not on this host: add its package to images/live/live.json`,
        );
      if (!seen.has(got.imagePath)) queue.push([got.imagePath, got.file]);
    }
  }
  return { fromHost };
}
