/**
 * Getting a remote host ready for its share of a lab: its prerequisites checked (each missing tool
 * named with its Debian package), and host.js/agent.js/emulator.js with koffi copied by SFTP into a
 * directory named by the version and a hash of what is copied, so a host that has them skips it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { VERSION } from '../../stack/version';
import { agentScript } from '../agents';
import { RuntimeFailure, UsageError } from '../errors';
import type { ClusterHostRecord } from './record';
import { type SshSession, shellQuote } from './ssh';

/** What a host needs and the Debian package that has it. */
const PREREQS: [cmd: string, pkg: string][] = [
  ['ip', 'iproute2'],
  ['tc', 'iproute2'],
  ['node', 'nodejs'],
  ['ping', 'iputils-ping'],
];
const DIST_FILES = ['host.js', 'agent.js', 'emulator.js'];

function distDir(): string {
  const dir = dirname(agentScript());
  for (const f of DIST_FILES)
    if (!existsSync(join(dir, f)))
      throw new UsageError(`${join(dir, f)} is missing: run 'npm run build' (remote hosts get dist/${f})`);
  return dir;
}

/**
 * The emulator's one native dependency (koffi and its prebuilt binary for this platform), copied
 * beside the bundles as node_modules/ so emulator.js resolves it there: JavaScript and the .node
 * file only. Paths relative to the deploy directory.
 */
function runtimeModules(dir: string): { local: string; rel: string }[] {
  let nm: string | undefined;
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules', 'koffi', 'package.json'))) {
      nm = join(d, 'node_modules');
      break;
    }
    if (dirname(d) === d) break;
  }
  if (!nm) return [];
  const out: { local: string; rel: string }[] = [];
  const walk = (abs: string, rel: string) => {
    for (const e of readdirSync(abs, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (e.name !== 'doc' && e.name !== 'vendor') walk(join(abs, e.name), `${rel}/${e.name}`);
      } else if (/\.(js|cjs|node)$|^package\.json$/.test(e.name))
        out.push({ local: join(abs, e.name), rel: `${rel}/${e.name}` });
    }
  };
  walk(join(nm, 'koffi'), 'node_modules/koffi');
  const plat = `koffi-${process.platform}-${process.arch}`;
  if (existsSync(join(nm, '@koromix', plat)))
    walk(join(nm, '@koromix', plat), `node_modules/@koromix/${plat}`);
  return out;
}

function distHash(dir: string): string {
  const h = createHash('sha256');
  for (const f of DIST_FILES) h.update(readFileSync(join(dir, f)));
  for (const m of runtimeModules(dir)) h.update(m.rel).update(readFileSync(m.local));
  return h.digest('hex').slice(0, 12);
}

/**
 * Prerequisites, named with their Debian packages; records in `r` whether sudo is needed and the
 * versioned directory the bundles go to.
 */
export async function checkHost(host: string, r: ClusterHostRecord, s: SshSession): Promise<void> {
  const script = [
    'echo "os=$(uname -s)"',
    'echo "uid=$(id -u)"',
    `for c in ${PREREQS.map(([c]) => c).join(' ')}; do command -v "$c" >/dev/null 2>&1 && echo "has=$c"; done`,
    'command -v node >/dev/null 2>&1 && echo "nodev=$(node -p process.versions.node)"',
    '[ "$(id -u)" = 0 ] || { sudo -n true 2>/dev/null && echo sudo=ok; }',
    'echo "home=$HOME"',
  ].join('; ');
  const out = await s.exec(script, { timeoutMs: 120_000 });
  const facts = new Map<string, string[]>();
  for (const line of out.stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) facts.set(line.slice(0, i), [...(facts.get(line.slice(0, i)) ?? []), line.slice(i + 1)]);
  }
  const who = `host ${host} (${r.user}@${r.address})`;
  const os = facts.get('os')?.[0];
  if (os !== 'Linux')
    throw new UsageError(`${who}: runs ${os ?? 'an unknown system'}; mplab hosts run Linux`);
  if (facts.get('uid')?.[0] !== '0' && !facts.has('sudo'))
    throw new UsageError(`${who}: ${r.user} is not root and has no passwordless sudo (sudo -n true failed)`);
  r.sudo = facts.get('uid')?.[0] !== '0';
  const has = new Set(facts.get('has') ?? []);
  const missing = PREREQS.filter(([c]) => !has.has(c));
  if (missing.length > 0)
    throw new UsageError(
      `${who}: missing ${missing.map(([c, p]) => `${c} (Debian package ${p})`).join(', ')}; install with: apt-get install ${[...new Set(missing.map(([, p]) => p))].join(' ')}`,
    );
  const nodev = facts.get('nodev')?.[0] ?? '';
  if (Number(nodev.split('.')[0]) < 20)
    throw new UsageError(
      `${who}: node ${nodev} is too old; mplab needs Node 20 or newer (Debian package nodejs)`,
    );
  const home = facts.get('home')?.[0] ?? '/root';
  const dir = distDir();
  r.deployDir = `${facts.get('uid')?.[0] === '0' ? '/var/lib/mplab' : `${home}/.cache/mplab`}/dist/${VERSION}-${distHash(dir)}`;
}

/** SFTP of the bundles into the versioned directory, unless a complete copy is there already. */
export async function deploy(host: string, r: ClusterHostRecord, s: SshSession): Promise<void> {
  const dir = distDir();
  if ((await s.exec(shellQuote(['test', '-f', `${r.deployDir}/.complete`]))).code === 0) return;
  let mk = await s.exec(shellQuote(['mkdir', '-p', r.deployDir]));
  if (mk.code !== 0) mk = await s.exec(shellQuote(['mkdir', '-p', r.deployDir]));
  if (mk.code !== 0)
    throw new RuntimeFailure(
      `host ${host}: cannot create ${r.deployDir} (exit ${mk.code}): ${mk.stderr.trim()}`,
    );
  const modules = runtimeModules(dir);
  const dirs = [...new Set(modules.map((m) => `${r.deployDir}/${dirname(m.rel)}`))];
  if (dirs.length > 0) {
    // Two deploys into one directory (hosts sharing a filesystem) may race on mkdir: once more.
    let md = await s.exec(shellQuote(['mkdir', '-p', ...dirs]));
    if (md.code !== 0) md = await s.exec(shellQuote(['mkdir', '-p', ...dirs]));
    if (md.code !== 0)
      throw new RuntimeFailure(
        `host ${host}: cannot create ${dirs[0]} (exit ${md.code}): ${md.stderr.trim() || md.stdout.trim()}`,
      );
  }
  for (const f of DIST_FILES) await s.put(join(dir, f), `${r.deployDir}/${f}`, 0o644);
  for (const m of modules) await s.put(m.local, `${r.deployDir}/${m.rel}`, 0o644);
  await s.put(Buffer.from(`${VERSION}\n`), `${r.deployDir}/.complete`, 0o644);
}
