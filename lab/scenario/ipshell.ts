/**
 * A persistent `ip -n <ns> -force -batch -` per namespace, started before the run, so a scenario
 * event on a veth link costs a write to a pipe instead of a process start (tens of milliseconds on
 * a busy machine). Each command is followed by `link show dev lo`, whose output marks it done.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';

export class IpShell {
  private readonly proc: ChildProcessWithoutNullStreams;
  private buf = '';
  private err = '';
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private dead: Error | undefined;

  constructor(readonly netns: string) {
    this.proc = spawn('ip', ['-n', netns, '-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout.setEncoding('utf8').on('data', (d: string) => this.onOut(d));
    this.proc.stderr.setEncoding('utf8').on('data', (d: string) => {
      this.err += d;
    });
    this.proc.on('error', (e) => this.fail(e));
    this.proc.on('close', () => this.fail(new Error(`ip -batch in ${netns} exited: ${this.err.trim()}`)));
    this.proc.stdin.on('error', () => {});
  }

  private onOut(d: string): void {
    this.buf += d;
    // each marker is the loopback's line: "1: lo: <LOOPBACK,UP,LOWER_UP> …"
    for (;;) {
      const m = /^\d+: lo: .*$/m.exec(this.buf);
      if (!m) break;
      this.buf = this.buf.slice(m.index + m[0].length);
      const w = this.waiters.shift();
      if (w) {
        const e = this.err.trim();
        this.err = '';
        if (e && /RTNETLINK|Error|Cannot/i.test(e)) w.reject(new Error(e));
        else w.resolve();
      }
    }
  }

  private fail(e: Error): void {
    if (this.dead) return;
    this.dead = e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  /** Runs batch lines; resolves once iproute2 has executed them. */
  run(lines: readonly string[]): Promise<void> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.proc.stdin.write(`${lines.join('\n')}\nlink show dev lo\n`);
    });
  }

  close(): void {
    if (!this.dead) this.dead = new Error('closed');
    this.proc.stdin.end();
    if (this.proc.exitCode === null) this.proc.kill();
  }
}
