/**
 * The host side of a VM node's agent: a small detached process that listens on the node's usual
 * control socket (/run/mplab/<lab>/<node>.sock) and carries each connection over one SSH session
 * (a direct-tcpip channel) to the guest agent's control port on the guest's loopback. So every lab
 * command that talks to an agent by its socket (sysctl, report, run, capture --stack, campaigns)
 * works on a VM node unchanged, and no node process starts in the guest per connection.
 *
 * When the SSH session drops (the VM died), the relay closes every connection at once and exits:
 * a run in progress sees its control connection close and fails naming the node.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GUEST_CONTROL_PORT } from '../images/live/layout';
import { SshSession } from '../remote/ssh';

export interface RelayConfig {
  node: string;
  /** The host-side control socket to listen on. */
  socket: string;
  sshPort: number;
  hostKey: string;
  privateKeyFile: string;
}

/** The command that starts a relay: dist/vmrelay.js when bundled, else the source through tsx. */
export function relayCommand(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const bundled = join(here, 'vmrelay.js');
  if (existsSync(bundled)) return [process.execPath, bundled];
  // Running from source (tests, scripts): the source itself, never a possibly stale bundle.
  const source = join(here, 'relay-main.ts');
  if (existsSync(source)) {
    const req = createRequire(import.meta.url);
    const tsxDir = dirname(req.resolve('tsx/package.json'));
    return [process.execPath, '--import', pathToFileURL(join(tsxDir, 'dist', 'loader.mjs')).href, source];
  }
  throw new Error(`vm relay: cannot find vmrelay.js beside ${here}; run 'npm run build'`);
}

/** A fingerprint of the agent bundle, so the guest copy is replaced only when it changed. */
export function bundleHash(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);
}

/** Runs the relay until the SSH session ends (then exits 1) or SIGTERM (exits 0). */
export async function runRelay(cfg: RelayConfig): Promise<never> {
  const log = (m: string) => process.stderr.write(`${new Date().toISOString()} vm relay ${cfg.node}: ${m}\n`);
  const session = await SshSession.connect({
    host: '127.0.0.1',
    port: cfg.sshPort,
    user: 'root',
    privateKey: readFileSync(cfg.privateKeyFile),
    hostKey: cfg.hostKey,
    label: `vm node ${cfg.node}`,
  });
  const clients = new Set<Socket>();
  rmSync(cfg.socket, { force: true });
  const server = createServer((c) => {
    clients.add(c);
    c.on('close', () => clients.delete(c));
    c.on('error', () => c.destroy());
    session.openTcp('127.0.0.1', GUEST_CONTROL_PORT).then(
      (ch) => {
        c.pipe(ch).pipe(c);
        ch.on('close', () => c.destroy());
        ch.on('error', () => c.destroy());
        c.on('close', () => ch.destroy());
      },
      (e: Error) => {
        log(e.message);
        c.destroy();
      },
    );
  });
  const exit = (code: number) => {
    for (const c of clients) c.destroy();
    server.close();
    rmSync(cfg.socket, { force: true });
    process.exit(code);
  };
  process.on('SIGTERM', () => exit(0));
  process.on('SIGINT', () => exit(0));
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen({ path: cfg.socket }, () => res());
  });
  log(`listening on ${cfg.socket}`);
  await session.closed();
  log('SSH session to the guest ended (the VM stopped?): closing every agent connection');
  exit(1);
  throw new Error('unreachable');
}

export function readRelayConfig(file: string): RelayConfig {
  return JSON.parse(readFileSync(resolve(file), 'utf8')) as RelayConfig;
}
