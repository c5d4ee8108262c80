/**
 * `mplab shell`: an interactive prompt on a lab, in the spirit of Mininet's CLI. A line is
 *   - `<node> <command…>`: the command runs inside that node; other nodes' names in it become their
 *     first address (`a ping b`, as in Mininet);
 *   - `pingall`: every host pings every other host's first address;
 *   - `links`, `nodes`: the lab at a glance;
 *   - any mplab command that works on a lab (`report b`, `sysctl a net.mptcp.mptcp_scheduler`,
 *     `link a:eth1 down`, `run a b --time 3`…), run against this lab;
 *   - `help`, `exit` (or Ctrl-D).
 * History persists across sessions; Tab completes commands, node names, endpoints and knobs.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { Lab } from '../../lab/lab';
import { describeParams } from '../../lab/scenario/describe';
import type { NodeModel } from '../../lab/topology/model';
import { KNOBS } from '../../stack/sysctl';
import { splitWords } from './words';

const BUILTINS = ['help', 'nodes', 'links', 'pingall', 'exit', 'quit'];
const HISTORY_MAX = 1000;

export function historyPath(): string {
  const base = process.env.XDG_STATE_HOME ?? join(homedir(), '.local/state');
  return join(base, 'mplab/shell_history');
}

/** The mplab CLI as the shell reaches it: its commands that take `--lab`, and a way to run one. */
export interface ShellCli {
  labCommands: ReadonlySet<string>;
  run(argv: string[]): Promise<number>;
}

export interface ShellIo {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  terminal: boolean;
}

export class LabShell {
  private readonly nodes: NodeModel[];
  private readonly mplabCommands: ReadonlySet<string>;
  private rl: Interface | undefined;

  constructor(
    private readonly lab: Lab,
    private readonly io: ShellIo,
    private readonly cli: ShellCli,
  ) {
    this.nodes = lab.model.nodes;
    this.mplabCommands = cli.labCommands;
  }

  private write(text: string): void {
    this.io.output.write(text);
  }

  /** Tab completion: the first word from commands and nodes; later words from nodes, endpoints, knobs. */
  complete(line: string): [string[], string] {
    const words = line.split(/\s+/);
    const last = words[words.length - 1] ?? '';
    let pool: string[];
    if (words.length <= 1) pool = [...BUILTINS, ...this.mplabCommands, ...this.nodes.map((n) => n.name)];
    else if (words[0] === 'sysctl' && words.length >= 3) pool = KNOBS.map((k) => k.name);
    else if (words[0] === 'link' || words[0] === 'capture')
      pool = this.nodes.flatMap((n) => n.interfaces.map((i) => `${n.name}:${i.name}`));
    else pool = [...this.nodes.map((n) => n.name), 'all'];
    const hits = pool.filter((p) => p.startsWith(last));
    return [hits.length > 0 ? [...new Set(hits)].sort() : [], last];
  }

  /** Replaces node names standing alone in a node command with their first address. */
  private substitute(words: string[]): string[] {
    return words.map((w) => {
      const n = this.nodes.find((x) => x.name === w);
      return n?.addresses[0] ?? w;
    });
  }

  private hosts(): NodeModel[] {
    return this.nodes.filter((n) => n.kind === 'host');
  }

  async pingall(): Promise<{ sent: number; received: number }> {
    const hosts = this.hosts();
    let sent = 0;
    let received = 0;
    this.write('*** Ping: testing reachability between hosts\n');
    for (const a of hosts) {
      const reached: string[] = [];
      for (const b of hosts) {
        if (a === b || !b.addresses[0]) continue;
        sent++;
        const r = await this.lab.exec(a.name, ['ping', '-c', '1', '-W', '1', b.addresses[0]], {
          stdio: 'pipe',
        });
        if (r.code === 0) {
          received++;
          reached.push(b.name);
        } else reached.push('X');
      }
      this.write(`${a.name} -> ${reached.join(' ')}\n`);
    }
    const dropped = sent === 0 ? 0 : Math.round((100 * (sent - received)) / sent);
    this.write(`*** Results: ${dropped}% dropped (${received}/${sent} received)\n`);
    return { sent, received };
  }

  private async links(): Promise<void> {
    const s = await this.lab.status();
    for (const l of s.links) {
      const ab = describeParams(l.ab) || 'unshaped';
      const ba = describeParams(l.ba) || 'unshaped';
      const params = ab === ba ? ab : `${l.a}→${l.b} ${ab}; ${l.b}→${l.a} ${ba}`;
      this.write(`${l.id}  ${l.up ? 'up' : 'DOWN'}  via ${l.via}  ${params}\n`);
    }
  }

  private help(): void {
    this.write(
      [
        'commands:',
        '  <node> <cmd…>      run a command in a node; node names become addresses (a ping b)',
        '  pingall            every host pings every other host',
        '  nodes, links       the lab at a glance',
        `  ${[...this.mplabCommands].sort().join(', ')}`,
        '                     mplab commands, aimed at this lab (e.g. report b, link a:eth1 down)',
        '  help, exit         this text; leave (Ctrl-D too)',
        '',
      ].join('\n'),
    );
  }

  /** Runs one line; returns false when the shell should end. Never throws: errors are printed. */
  async line(text: string): Promise<boolean> {
    let words: string[];
    try {
      words = splitWords(text.trim());
    } catch (e) {
      this.write(`mplab shell: ${(e as Error).message}\n`);
      return true;
    }
    const [head, ...rest] = words;
    if (!head || head.startsWith('#')) return true;
    try {
      if (head === 'exit' || head === 'quit') return false;
      if (head === 'help' || head === '?') this.help();
      else if (head === 'nodes')
        for (const n of this.nodes)
          this.write(
            `${n.name}  ${n.kind}${n.kind === 'host' ? ` (${n.stack})` : ''}  ${n.addresses.join(' ')}\n`,
          );
      else if (head === 'links') await this.links();
      else if (head === 'pingall') await this.pingall();
      else if (this.nodes.some((n) => n.name === head)) {
        if (rest.length === 0) {
          this.write(`mplab shell: give a command to run in '${head}' (e.g. ${head} ip addr)\n`);
          return true;
        }
        this.rl?.pause();
        const r = await this.lab.exec(head, this.substitute(rest), {
          stdio: this.io.terminal ? 'inherit' : 'pipe',
        });
        if (!this.io.terminal) this.write(r.stdout + r.stderr);
        if (r.code !== 0) this.write(`(exit ${r.code})\n`);
      } else if (this.mplabCommands.has(head) || head === 'graph') {
        const argv =
          head === 'graph'
            ? [head, ...(rest.length > 0 ? rest : [this.lab.name])]
            : [head, ...rest, '--lab', this.lab.name];
        const code = await this.cli.run(argv);
        if (code !== 0) this.write(`(exit ${code})\n`);
      } else {
        this.write(`mplab shell: '${head}' is neither a node nor a command (help lists them)\n`);
      }
    } catch (e) {
      this.write(`mplab shell: ${(e as Error).message}\n`);
    } finally {
      this.rl?.resume();
    }
    return true;
  }

  private loadHistory(): string[] {
    try {
      return readFileSync(historyPath(), 'utf8').split('\n').filter(Boolean).reverse().slice(0, HISTORY_MAX);
    } catch {
      return [];
    }
  }

  private saveHistory(lines: readonly string[]): void {
    try {
      mkdirSync(dirname(historyPath()), { recursive: true });
      writeFileSync(historyPath(), `${[...lines].reverse().join('\n')}\n`);
    } catch {
      // a read-only home is no reason to fail the session
    }
  }

  /** The read-eval loop; resolves when the user leaves. */
  async run(): Promise<void> {
    const rl = createInterface({
      input: this.io.input,
      output: this.io.output,
      terminal: this.io.terminal,
      completer: (l: string) => this.complete(l),
      history: this.io.terminal ? this.loadHistory() : [],
      historySize: HISTORY_MAX,
      prompt: `mplab:${this.lab.name}> `,
    });
    this.rl = rl;
    if (this.io.terminal)
      this.write(
        `lab '${this.lab.name}': ${this.nodes.length} nodes. help lists the commands, Ctrl-D leaves.\n`,
      );
    const done = new Promise<void>((resolve) => rl.once('close', resolve));
    rl.prompt();
    // one line at a time: a line that runs a transfer finishes before the next is read
    for await (const text of rl) {
      if (!(await this.line(text))) break;
      rl.prompt();
    }
    if (this.io.terminal) this.saveHistory((rl as unknown as { history: string[] }).history);
    rl.close();
    await done;
  }
}
