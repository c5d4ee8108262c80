/**
 * One SSH connection to a remote host or a VM node (ssh2): exec, exec as a stream, SFTP upload.
 *
 * What it promises:
 * - The server's host key is checked against pinned OpenSSH public key lines by comparing the key
 *   blob (not a hash of it). An unknown key (nothing pinned) or a changed key refuses with a
 *   HostKeyMismatchError carrying the SHA256 fingerprint OpenSSH would show. Trust on first use
 *   only with `acceptNewHostKey` and only when nothing is pinned; a changed key is never accepted.
 *   The key that was accepted is on `session.hostKey` so callers can pin it from then on.
 * - The private key stays in this process: it signs the authentication challenge and is never
 *   written to the remote side (no agent forwarding either).
 * - Commands are strings for the remote shell; build them with `shellQuote(argv)`, never by
 *   pasting user input into a string.
 * - Errors name the target (`label`, e.g. "host h1") and the address.
 */
import { createHash } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import type { Duplex } from 'node:stream';
import ssh2, { type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';

export interface SshTarget {
  host: string;
  port?: number;
  user: string;
  /** An OpenSSH/PEM private key; used to sign the authentication, never copied to the remote side. */
  privateKey: Buffer | string;
  /** Pinned OpenSSH public key line(s) "ssh-ed25519 AAAA... [comment]"; empty = nothing pinned. */
  hostKey: string | string[];
  /** For error messages: "host h1", "vm node a". */
  label?: string;
}

export interface ConnectOptions {
  timeoutMs?: number;
  /** Accept the presented key when nothing is pinned (trust on first use). Never for a changed key. */
  acceptNewHostKey?: boolean;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type SshStream = Duplex & {
  /** The remote command's exit status (128+n for a signal, 255 when the channel closed without one). */
  exitCode: Promise<number>;
  /** The remote command's stderr. */
  stderr: NodeJS.ReadableStream;
};

/** A host key that is not pinned: unknown (nothing pinned) or changed (something else pinned). */
export class HostKeyMismatchError extends Error {
  readonly fingerprint: string;
  readonly kind: 'unknown' | 'changed';
  /** The key the server presented, as an OpenSSH public key line (for pinning after checking it). */
  readonly presentedKey: string;
  readonly label: string;
  constructor(label: string, kind: 'unknown' | 'changed', presentedKey: string, fingerprint: string) {
    super(
      kind === 'changed'
        ? `${label}: host key changed: the server presented ${fingerprint}, which is not the pinned key; refusing to connect (if the host was reinstalled, update its hostKey)`
        : `${label}: unknown host key ${fingerprint}; pin it with hostKey: "${presentedKey}" after checking it on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), or pass --accept-new-host-keys`,
    );
    this.name = 'HostKeyMismatchError';
    this.kind = kind;
    this.fingerprint = fingerprint;
    this.presentedKey = presentedKey;
    this.label = label;
  }
}

/** The connection failed or dropped (not a host key problem). */
export class SshError extends Error {
  readonly label: string;
  readonly code: string | undefined;
  constructor(label: string, message: string, code?: string) {
    super(`${label}: ${message}`);
    this.name = 'SshError';
    this.label = label;
    this.code = code;
  }
}

/** Quotes an argv for a POSIX shell: every word single-quoted unless it is plainly safe. */
export function shellQuote(argv: readonly string[]): string {
  return argv
    .map((a) => {
      if (a === '') return "''";
      if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a)) return a;
      return `'${a.replace(/'/g, `'\\''`)}'`;
    })
    .join(' ');
}

/** A parsed OpenSSH public key line. */
export interface PublicKeyLine {
  type: string;
  blob: Buffer;
}

/** Parses "type base64 [comment]" (also tolerates a leading known_hosts host field); undefined if bad. */
export function parsePublicKeyLine(line: string): PublicKeyLine | undefined {
  const words = line.trim().split(/\s+/);
  for (let i = 0; i + 1 < words.length; i++) {
    const type = words[i] as string;
    const b64 = words[i + 1] as string;
    if (!/^(ssh-|ecdsa-sha2-|sk-)/.test(type) || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) continue;
    const blob = Buffer.from(b64, 'base64');
    // The blob starts with its own type string; a line whose two disagree is not a key.
    if (blob.length < 4) return undefined;
    const n = blob.readUInt32BE(0);
    if (blob.subarray(4, 4 + n).toString('latin1') !== type) return undefined;
    return { type, blob };
  }
  return undefined;
}

/** OpenSSH's fingerprint of a key blob: "SHA256:" + unpadded base64 of its SHA-256. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString('latin1');
}

/** Host key algorithms that present a key of this type (an RSA key signs with SHA-2 algorithms). */
function algorithmsFor(type: string): string[] {
  if (type === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return [type];
}

function signalCode(name: string | undefined): number {
  if (!name) return 255;
  const n = (osConstants.signals as Record<string, number>)[name.startsWith('SIG') ? name : `SIG${name}`];
  return n ? 128 + n : 255;
}

// ssh2 is CommonJS: Node's ESM loader gives its exports as the default export only.
const { Client } = ssh2;
type Client = InstanceType<typeof Client>;

export class SshSession {
  /** The host key the server presented (OpenSSH public key line), pinned or newly accepted. */
  readonly hostKey: string;
  readonly fingerprint: string;
  readonly label: string;
  private sftpP: Promise<SFTPWrapper> | undefined;
  private closedErr: Error | undefined;
  private readonly closeWaiters: Array<() => void> = [];

  private constructor(
    private readonly client: Client,
    label: string,
    hostKey: string,
  ) {
    this.label = label;
    this.hostKey = hostKey;
    const parsed = parsePublicKeyLine(hostKey);
    this.fingerprint = parsed ? fingerprintOf(parsed.blob) : '';
    client.on('error', (e) => this.markClosed(new SshError(label, `connection lost: ${e.message}`)));
    client.on('close', () => this.markClosed(new SshError(label, 'connection closed')));
  }

  static connect(t: SshTarget, opts: ConnectOptions = {}): Promise<SshSession> {
    const port = t.port ?? 22;
    const label = t.label ?? `${t.user}@${t.host}:${port}`;
    const where = `${t.host}:${port}`;
    const pinnedLines = (Array.isArray(t.hostKey) ? t.hostKey : [t.hostKey]).filter((l) => l.trim());
    const pinned: PublicKeyLine[] = [];
    for (const line of pinnedLines) {
      const k = parsePublicKeyLine(line);
      if (!k)
        return Promise.reject(new SshError(label, `hostKey is not an OpenSSH public key line: "${line}"`));
      pinned.push(k);
    }
    const timeoutMs = opts.timeoutMs ?? 15_000;
    return new Promise<SshSession>((resolve, reject) => {
      const client = new Client();
      let refused: HostKeyMismatchError | undefined;
      let presented = '';
      let settled = false;
      const done = (err: Error | undefined, s?: SshSession) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          client.removeAllListeners('ready');
          client.on('error', () => {});
          client.end();
          client.destroy();
          reject(err);
        } else resolve(s as SshSession);
      };
      // ssh2's readyTimeout only covers the handshake; this also covers a TCP connect that hangs.
      const timer = setTimeout(
        () => done(new SshError(label, `no SSH answer from ${where} within ${timeoutMs} ms`, 'ETIMEDOUT')),
        timeoutMs,
      );
      const config: ConnectConfig = {
        host: t.host,
        port,
        username: t.user,
        privateKey: t.privateKey,
        readyTimeout: timeoutMs,
        keepaliveInterval: 5000,
        keepaliveCountMax: 3,
        agentForward: false,
        hostVerifier: (key: Buffer) => {
          const type = keyTypeOfBlob(key);
          presented = `${type} ${key.toString('base64')}`;
          if (pinned.some((p) => p.blob.equals(key))) return true;
          if (pinned.length === 0 && opts.acceptNewHostKey) return true;
          refused = new HostKeyMismatchError(
            label,
            pinned.length === 0 ? 'unknown' : 'changed',
            presented,
            fingerprintOf(key),
          );
          return false;
        },
      };
      if (pinned.length > 0) {
        const algos = [...new Set(pinned.flatMap((p) => algorithmsFor(p.type)))];
        config.algorithms = {
          serverHostKey: algos as NonNullable<ConnectConfig['algorithms']>['serverHostKey'],
        };
      }
      client.once('ready', () => {
        client.removeAllListeners('error');
        done(undefined, new SshSession(client, label, presented));
      });
      client.on('error', (e: Error & { code?: string; level?: string }) => {
        if (refused) return done(refused);
        const msg =
          e.level === 'client-authentication'
            ? `authentication as ${t.user} at ${where} failed (is the public key in the host's authorized_keys?)`
            : `cannot connect to ${where}: ${e.message}`;
        done(new SshError(label, msg, e.code ?? e.level));
      });
      client.once('close', () => {
        if (refused) return done(refused);
        done(new SshError(label, `connection to ${where} closed during the handshake`));
      });
      try {
        client.connect(config);
      } catch (e) {
        done(new SshError(label, (e as Error).message));
      }
    });
  }

  get isOpen(): boolean {
    return this.closedErr === undefined;
  }

  /** Resolves when the connection is gone (closed by either side or dropped). */
  closed(): Promise<void> {
    if (this.closedErr) return Promise.resolve();
    return new Promise((r) => this.closeWaiters.push(r));
  }

  /** Runs a command to completion; a non-zero exit is a result, not an error. */
  async exec(cmd: string, opts: { stdin?: string | Buffer; timeoutMs?: number } = {}): Promise<ExecResult> {
    const { ch, exitCode } = await this.openExec(cmd);
    return new Promise<ExecResult>((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timer: NodeJS.Timeout | undefined;
      let timedOut = false;
      ch.on('data', (b: Buffer) => out.push(b));
      ch.stderr.on('data', (b: Buffer) => err.push(b));
      void exitCode.then((code) => {
        if (timedOut) return;
        if (timer) clearTimeout(timer);
        if (!this.isOpen && code === undefined) {
          reject(this.closedErr);
          return;
        }
        resolve({
          code: code ?? 255,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        });
      });
      if (opts.timeoutMs && opts.timeoutMs > 0) {
        timer = setTimeout(() => {
          timedOut = true;
          ch.close();
          reject(
            new SshError(this.label, `command timed out after ${opts.timeoutMs} ms: ${cmd}`, 'ETIMEDOUT'),
          );
        }, opts.timeoutMs);
      }
      if (opts.stdin !== undefined) ch.end(opts.stdin);
      else ch.end();
    });
  }

  /** Runs a command with its stdio as a stream (stdout read, stdin written; stderr on `.stderr`). */
  async spawn(cmd: string): Promise<SshStream> {
    const { ch, exitCode } = await this.openExec(cmd);
    return Object.assign(ch as ClientChannel, {
      exitCode: exitCode.then((c) => c ?? 255),
    }) as unknown as SshStream;
  }

  /**
   * Opens a channel to a unix socket on the remote side (OpenSSH's streamlocal forwarding).
   * Dropbear has none: use an exec channel there (see agentrpc.ts).
   */
  openUnixSocket(path: string): Promise<Duplex> {
    this.assertOpen();
    return new Promise((resolve, reject) => {
      this.client.openssh_forwardOutStreamLocal(path, (e, ch) => {
        if (e) reject(new SshError(this.label, `cannot open ${path} over SSH: ${e.message}`));
        else resolve(ch);
      });
    });
  }

  /**
   * Opens a channel to a TCP port as seen from the remote side (direct-tcpip, which dropbear has):
   * how the VM backend reaches a service bound to the guest's loopback.
   */
  openTcp(host: string, port: number): Promise<Duplex> {
    this.assertOpen();
    return new Promise((resolve, reject) => {
      this.client.forwardOut('127.0.0.1', 0, host, port, (e, ch) => {
        if (e) reject(new SshError(this.label, `cannot open ${host}:${port} over SSH: ${e.message}`));
        else resolve(ch);
      });
    });
  }

  /**
   * Uploads a file (local path) or bytes by SFTP to `remotePath`, atomically: written beside it
   * under a temporary name, given its mode, then renamed over it.
   */
  async put(local: string | Buffer, remotePath: string, mode = 0o644): Promise<void> {
    const sftp = await this.sftp();
    const tmp = `${remotePath}.part-${process.pid}-${Date.now().toString(36)}`;
    const cb =
      (resolve: () => void, reject: (e: Error) => void, what: string) => (e: Error | null | undefined) => {
        if (e) reject(new SshError(this.label, `${what} ${remotePath}: ${e.message}`));
        else resolve();
      };
    await new Promise<void>((resolve, reject) => {
      const k = cb(resolve, reject, 'upload');
      if (typeof local === 'string') sftp.fastPut(local, tmp, { mode }, k);
      else sftp.writeFile(tmp, local, { mode }, k);
    });
    try {
      await new Promise<void>((resolve, reject) => sftp.chmod(tmp, mode, cb(resolve, reject, 'chmod')));
      await new Promise<void>((resolve, reject) =>
        sftp.ext_openssh_rename(tmp, remotePath, cb(resolve, reject, 'rename to')),
      );
    } catch (e) {
      await new Promise<void>((r) => sftp.unlink(tmp, () => r()));
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.closedErr) return;
    const done = this.closed();
    this.client.end();
    const t = setTimeout(() => this.client.destroy(), 2000);
    await done;
    clearTimeout(t);
  }

  private sftp(): Promise<SFTPWrapper> {
    this.assertOpen();
    this.sftpP ??= new Promise<SFTPWrapper>((resolve, reject) => {
      this.client.sftp((e, s) => {
        if (e) {
          this.sftpP = undefined;
          reject(new SshError(this.label, `SFTP unavailable: ${e.message}`));
        } else {
          s.on('close', () => {
            this.sftpP = undefined;
          });
          resolve(s);
        }
      });
    });
    return this.sftpP;
  }

  /**
   * Opens an exec channel. Its exit status and close are listened for here, in ssh2's callback:
   * a short command's exit-status, EOF and close can arrive in the same read as the channel's
   * confirmation and are emitted before an awaiting caller attaches listeners (seen as exit code
   * 255 for `exit 3`, and as a wait that never ends). `exitCode` resolves at close, undefined when
   * no exit status came.
   */
  private openExec(cmd: string): Promise<{ ch: ClientChannel; exitCode: Promise<number | undefined> }> {
    this.assertOpen();
    return new Promise((resolve, reject) => {
      this.client.exec(cmd, (e, ch) => {
        if (e) {
          reject(new SshError(this.label, `cannot run a command: ${e.message}`));
          return;
        }
        let code: number | undefined;
        ch.on('exit', (c: number | null, sig?: string) => {
          code = c ?? signalCode(sig);
        });
        const exitCode = new Promise<number | undefined>((done) => ch.once('close', () => done(code)));
        resolve({ ch, exitCode });
      });
    });
  }

  private assertOpen(): void {
    if (this.closedErr) throw this.closedErr;
  }

  private markClosed(e: Error): void {
    if (this.closedErr) return;
    this.closedErr = e;
    for (const w of this.closeWaiters.splice(0)) w();
  }
}
