/**
 * SSH sessions pooled per host: one connection per host, shared by every call and agent stream of
 * this process, opened on first use, opened again after a drop, closed when nothing has used it
 * for a moment (so a CLI command ends without an explicit close, and a script's idle lab holds no
 * connection).
 */
import type { ConnectOptions, SshSession, SshTarget } from './ssh';
import { SshSession as Session } from './ssh';

interface Entry {
  session?: SshSession;
  connecting?: Promise<SshSession>;
  leases: number;
  idle?: NodeJS.Timeout;
}

export interface PoolOptions extends ConnectOptions {
  /** How long an unused session stays open (default 300 ms). */
  idleMs?: number;
  /** Called when a host's key was accepted without being pinned (acceptNewHostKey). */
  onNewHostKey?: (host: string, key: string, fingerprint: string) => void;
}

export class SshPool {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly targets: ReadonlyMap<string, SshTarget>,
    private readonly opts: PoolOptions = {},
  ) {}

  /** A connected session to `host` and the function to call when done with it. */
  async acquire(host: string): Promise<{ session: SshSession; release: () => void }> {
    const t = this.targets.get(host);
    if (!t) throw new Error(`no SSH target for host ${host}`);
    let e = this.entries.get(host);
    if (!e) this.entries.set(host, (e = { leases: 0 }));
    e.leases++;
    if (e.idle) clearTimeout(e.idle);
    e.idle = undefined;
    const entry = e;
    try {
      if (!entry.session?.isOpen) {
        entry.session = undefined;
        entry.connecting ??= Session.connect(t, this.opts).then(
          (s) => {
            entry.connecting = undefined;
            const pinned = (Array.isArray(t.hostKey) ? t.hostKey : [t.hostKey]).filter(Boolean);
            if (pinned.length === 0) this.opts.onNewHostKey?.(host, s.hostKey, s.fingerprint);
            return s;
          },
          (err) => {
            entry.connecting = undefined;
            throw err;
          },
        );
        entry.session = await entry.connecting;
      }
    } catch (err) {
      this.release(host, entry);
      throw err;
    }
    let released = false;
    return {
      session: entry.session as SshSession,
      release: () => {
        if (released) return;
        released = true;
        this.release(host, entry);
      },
    };
  }

  /** Runs `fn` with a session to `host`. */
  async with<T>(host: string, fn: (s: SshSession) => Promise<T>): Promise<T> {
    const { session, release } = await this.acquire(host);
    try {
      return await fn(session);
    } finally {
      release();
    }
  }

  /** How many users the host's session has now. */
  leases(host: string): number {
    return this.entries.get(host)?.leases ?? 0;
  }

  async closeAll(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(
      all.map(async (e) => {
        if (e.idle) clearTimeout(e.idle);
        await e.session?.close();
      }),
    );
  }

  private release(host: string, e: Entry): void {
    e.leases = Math.max(0, e.leases - 1);
    if (e.leases > 0) return;
    e.idle = setTimeout(() => {
      if (e.leases > 0) return;
      if (this.entries.get(host) === e) this.entries.delete(host);
      void e.session?.close();
    }, this.opts.idleMs ?? 300);
  }
}
