import type { Command } from 'commander';
import { RuntimeFailure, UsageError } from '../../lab/errors';
import { DEMOS, type DemoName, type DemoOutput, runDemo } from '../../lab/run/demo';
import type { DemoFigures } from '../../lab/run/demo-figures';
import { writeDemoPlot } from '../../lab/run/demo-plot';
import { checkPlotPath } from '../../lab/run/plot';
import { describeEnds } from '../../lab/run/result';
import { printJson, printView } from '../ui/output';
import { parseSeedArg, parseTimeArg } from '../ui/run-args';
import { liveMode, startLive } from '../ui/run-live';
import { RunSummary } from '../ui/run-view';
import { usage } from './run';
import type { CommandModule } from './types';

interface DemoOpts {
  sim?: boolean;
  json?: boolean;
  plot: string;
  keep?: boolean;
  duration?: string;
  downAt?: string;
  upAt?: string;
  seed?: string;
  name?: string;
  compare?: string;
  backend?: string;
  vmAccel?: string;
}

const sec = (v: number | undefined) => (v === undefined ? 'never' : `${v.toFixed(2)} s`);

/** The comparison table: one row per figure, one column per stack. */
export function figuresTable(cols: { label: string; f: DemoFigures }[]): string[] {
  const rows: [string, (f: DemoFigures) => string][] = [
    ['goodput', (f) => `${f.goodputMbps.toFixed(2)} Mbit/s`],
    ['gap when WiFi goes', (f) => sec(f.gapSeconds)],
    ['WiFi in use again after', (f) => sec(f.wifiBackSeconds)],
    ['application stalled', (f) => sec(f.stallSeconds)],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const ws = cols.map((c) => Math.max(c.label.length, ...rows.map((r) => r[1](c.f).length)));
  const line = (a: string, cells: string[]) =>
    `  ${a.padEnd(w0)}  ${cells.map((c, i) => c.padStart(ws[i]!)).join('  ')}`;
  return [
    line(
      '',
      cols.map((c) => c.label),
    ),
    ...rows.map(([name, get]) =>
      line(
        name,
        cols.map((c) => get(c.f)),
      ),
    ),
  ];
}

/** Per-second application goodput of each run, ten seconds to a line. */
export function perSecondLines(cols: { label: string; f: DemoFigures }[]): string[] {
  const out: string[] = [];
  const n = Math.max(...cols.map((c) => c.f.perSecond.length));
  for (let k = 0; k < n; k += 10) {
    const head = `  s ${String(k).padStart(2)}–${String(Math.min(n, k + 10) - 1).padStart(2)}`;
    out.push(head);
    for (const c of cols)
      out.push(
        `    ${c.label.padEnd(14)}${c.f.perSecond
          .slice(k, k + 10)
          .map((v) => v.toFixed(1).padStart(6))
          .join('')}`,
      );
  }
  return out;
}

async function action(name: string | undefined, opts: DemoOpts): Promise<void> {
  const demo = (name ?? 'ietf-livecd') as DemoName;
  if (!DEMOS.includes(demo))
    throw new UsageError(`demo: unknown demo '${name}' (known: ${DEMOS.join(', ')})`);
  checkPlotPath(opts.plot);
  if (opts.compare !== undefined && opts.compare !== 'kernel')
    throw new UsageError(
      `demo --compare ${opts.compare}: the demo compares with 'kernel' (the kernel's MPTCP)`,
    );
  if (opts.backend !== undefined && opts.backend !== 'vm' && opts.backend !== 'netns')
    throw new UsageError(
      `demo --backend ${opts.backend}: the demo runs on namespaces (netns, the default) or with client and server as VMs (vm)`,
    );
  if (opts.vmAccel !== undefined && !['auto', 'kvm', 'tcg'].includes(opts.vmAccel))
    throw new UsageError(`demo --vm-accel ${opts.vmAccel}: one of auto, kvm, tcg`);
  if (opts.vmAccel !== undefined && opts.backend !== 'vm')
    throw new UsageError('demo --vm-accel is for --backend vm');
  const durationMs = opts.duration ? parseTimeArg(opts.duration, '--duration') : 30_000;
  const downAtMs = opts.downAt ? parseTimeArg(opts.downAt, '--down-at') : Math.round(durationMs / 3);
  const upAtMs = opts.upAt ? parseTimeArg(opts.upAt, '--up-at') : Math.round((2 * durationMs) / 3);
  const say = (t: string) => {
    if (!opts.json) process.stdout.write(`${t}\n`);
    else process.stderr.write(`${t}\n`);
  };
  const mode = liveMode(opts.json);
  // Ctrl-C: stop the transfer, then tear the lab down (the demo's finally does it); later signals wait.
  const ac = new AbortController();
  let signals = 0;
  const onSig = () => {
    signals++;
    if (signals === 1) {
      process.stderr.write('\ninterrupted: stopping the transfer and tearing the lab down…\n');
      ac.abort();
    } else process.stderr.write('still tearing the lab down; please wait\n');
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  let live: ReturnType<typeof startLive> | undefined;
  say(
    'mplab demo: the IETF 80 MPTCP live-CD demo (WiFi-like 20 Mbit/s 20 ms RTT + 3G-like 2 Mbit/s 150 ms RTT)',
  );
  try {
    const out = await usage(() =>
      runDemo(demo, {
        durationMs,
        downAtMs,
        upAtMs,
        ...(opts.sim ? { sim: true } : {}),
        ...(opts.seed !== undefined ? { seed: parseSeedArg(opts.seed) } : {}),
        ...(opts.keep ? { keep: true } : {}),
        ...(opts.name ? { name: opts.name } : {}),
        ...(opts.compare === 'kernel' ? { compare: 'kernel' as const } : {}),
        ...(opts.backend === 'vm' ? { backend: 'vm' as const } : {}),
        ...(opts.vmAccel !== undefined ? { vmAccel: opts.vmAccel as 'auto' | 'kvm' | 'tcg' } : {}),
        onCompareStart: () => {
          void live?.finish();
          live = startLive("client ← server on the kernel's MPTCP (download)", mode, durationMs / 1000);
        },
        signal: ac.signal,
        onPhase: say,
        onKnobs: (rows) => {
          say('knobs on the client (the IETF 80 /proc instrumentation):');
          const label: Record<string, string> = {
            'net.mptcp.mptcp_enabled': 'the MPTCP switch',
            'net.mptcp.mptcp_ndiffports': 'multiport: subflows per address pair',
            'net.mptcp.mptcp_mss': 'shared MSS (0: per path)',
          };
          for (const r of rows) say(`  ${r.name} = ${String(r.value)}  (${label[r.name] ?? ''})`);
          live = startLive('client ← server (download; the client connected)', mode, durationMs / 1000);
        },
        onPoint: (p, l) => live?.onPoint(p, l),
        onEvent: (e) => live?.onEvent(e),
      }),
    );
    await live?.finish();
    const r = out.result;
    const where = out.mode === 'sim' ? 'simulated' : 'lab';
    const window = `WiFi down ${downAtMs / 1000}–${upAtMs / 1000} s`;
    writeDemoPlot(opts.plot, [
      { title: `IETF live-CD demo (${where}, our stack): ${window}`, result: r },
      ...(out.compare
        ? [{ title: `the same on the kernel's MPTCP (lab): ${window}`, result: out.compare.result }]
        : []),
    ]);
    const cols = [{ label: 'our stack', f: out.figures }];
    if (out.compare) cols.push({ label: "kernel's MPTCP", f: out.compare.figures });
    if (opts.json) printJson(demoJson(out));
    else {
      printView(<RunSummary r={r} />);
      if (out.compare) {
        printView(<RunSummary r={out.compare.result} />);
        for (const w of out.compare.watcher) say(`  endpoint watcher: ${w}`);
      }
      say(`\nfigures (stall: an interval below ${stallText(out)}):`);
      for (const l of figuresTable(cols)) say(l);
      say('\nstate report (during the transfer):');
      for (const t of out.reports) say(t);
      say('\napplication goodput per second (Mbit/s):');
      for (const l of perSecondLines(cols)) say(l);
      say(`plot: ${opts.plot}`);
    }
    if (r.integrity !== 'ok') throw new RuntimeFailure(`demo: integrity: ${r.integrity}`);
    if (out.compare && out.compare.result.integrity !== 'ok')
      throw new RuntimeFailure(`demo --compare kernel: integrity: ${out.compare.result.integrity}`);
  } finally {
    await live?.finish();
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
}

export const demo: CommandModule = {
  name: 'demo',
  register(program: Command) {
    program
      .command('demo [name]')
      .description('reproduce the IETF MPTCP live-CD demo (WiFi + 3G, WiFi lost and back)')
      .option('--sim', 'run it in the deterministic simulator (no root needed)')
      .option('--json', 'print the result as JSON')
      .option('--plot <file>', 'plot file (.svg or .png)', 'mplab-demo.svg')
      .option('--keep', 'leave the lab up afterwards')
      .option('--duration <t>', 'length of the download', '30s')
      .option('--down-at <t>', 'when WiFi goes down (default: a third in)')
      .option('--up-at <t>', 'when WiFi comes back (default: two thirds in)')
      .option('--seed <n>', 'simulator seed')
      .option('-n, --name <name>', 'lab name (default ietf-livecd)')
      .option(
        '--compare <stack>',
        "run the same scenario on the kernel's MPTCP too (kernel): one table, one plot",
      )
      .option('--backend <kind>', 'netns (default), or vm: client and server as QEMU VMs (see docs/vm.md)')
      .option('--vm-accel <accel>', 'with --backend vm: auto (default), kvm or tcg')
      .action(action);
  },
};

function stallText(out: DemoOutput): string {
  return `${out.figures.stallMbps.toFixed(2)} Mbit/s (10 % of 3G's rate); WiFi in use from ${out.figures.wifiMbps.toFixed(1)} Mbit/s on its subflows`;
}

/** --json: the runs as results, their figures, who opened the connection. */
function demoJson(out: DemoOutput) {
  return {
    mode: out.mode,
    fallback: out.fallback,
    knobs: out.knobs,
    result: out.result,
    figures: out.figures,
    who: describeEnds(out.result),
    // the state reports as objects, and as the text the summary prints
    reports: out.reportObjects,
    reportText: out.reports,
    ...(out.compare ? { compare: out.compare } : {}),
  };
}
