/**
 * Boots the live image in QEMU with its serial console on a pipe, and waits for lines on it: what
 * the boot tests, the bench and `image build --check` share. TCG by default: this machine's
 * /dev/kvm hangs guests (the VM backend probes; here a caller may pass accel explicitly).
 * The QEMU process is this object's own child and `stop` ends exactly it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { RuntimeFailure } from '../../errors';

export interface BootOptions {
  /** Direct kernel boot… */
  kernel?: string;
  initrd?: string;
  append?: string;
  /** …or the ISO (BIOS unless `uefi` names an OVMF firmware file). */
  iso?: string;
  uefi?: string;
  memMiB?: number;
  accel?: string;
  /** Extra QEMU arguments (NICs). */
  args?: string[];
}

export class QemuBoot {
  output = '';
  readonly startedAt = performance.now();
  private exited: Promise<number | null>;
  private waiters: (() => void)[] = [];

  private constructor(readonly child: ChildProcess) {
    const onData = (b: Buffer) => {
      this.output += b.toString('latin1');
      for (const w of this.waiters) w();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((res) => child.once('exit', (code) => res(code)));
    void this.exited.then(() => {
      for (const w of this.waiters) w();
    });
  }

  static argv(o: BootOptions): string[] {
    const args = ['-accel', o.accel ?? 'tcg', '-m', String(o.memMiB ?? 1024), '-smp', '1'];
    args.push('-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot');
    if (o.iso) {
      args.push('-cdrom', o.iso, '-boot', 'd');
      if (o.uefi) args.push('-bios', o.uefi);
    } else {
      if (!o.kernel || !o.initrd) throw new Error('boot: kernel and initrd, or an ISO');
      args.push('-kernel', o.kernel, '-initrd', o.initrd, '-append', o.append ?? 'console=ttyS0');
    }
    args.push(...(o.args ?? ['-nic', 'none']));
    return args;
  }

  static start(o: BootOptions): QemuBoot {
    const child = spawn('qemu-system-x86_64', QemuBoot.argv(o), { stdio: ['pipe', 'pipe', 'pipe'] });
    child.once('error', () => {});
    return new QemuBoot(child);
  }

  /** Seconds since QEMU started. */
  elapsed(): number {
    return (performance.now() - this.startedAt) / 1000;
  }

  /**
   * Resolves with the seconds since start when `re` matches the console's complete lines (ANSI
   * stripped). Complete lines only: the serial port delivers a line in pieces, and a caller that
   * waits for a line's start and then reads the rest must find the rest there.
   */
  waitFor(re: RegExp, timeoutMs: number): Promise<number> {
    return new Promise((res, rej) => {
      let done = false;
      const check = () => {
        if (done) return;
        const text = stripAnsi(this.output);
        if (re.test(text.slice(0, text.lastIndexOf('\n') + 1))) {
          done = true;
          clearTimeout(timer);
          res(this.elapsed());
        } else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done = true;
          clearTimeout(timer);
          rej(new RuntimeFailure(`qemu exited before ${re} appeared; console:\n${tail(this.output)}`));
        }
      };
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        rej(
          new RuntimeFailure(
            `no ${re} on the console after ${timeoutMs / 1000} s; console:\n${tail(this.output)}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push(check);
      check();
    });
  }

  /** Types into the serial console. */
  send(text: string): void {
    this.child.stdin?.write(text);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 3000);
      await this.exited;
      clearTimeout(t);
    }
  }
}

export function stripAnsi(s: string): string {
  return s.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>c]|\r/g, '');
}

function tail(s: string, n = 40): string {
  return stripAnsi(s).split('\n').slice(-n).join('\n');
}
