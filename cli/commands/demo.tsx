import type { Command } from 'commander';
import { RuntimeFailure, UsageError } from '../../lab/errors';
import { DEMOS, type DemoName, runDemo } from '../../lab/run/demo';
import { checkPlotPath, writePlot } from '../../lab/run/plot';
import { pathMbpsBetween } from '../../lab/run/timeline';
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
}

async function action(name: string | undefined, opts: DemoOpts): Promise<void> {
  const demo = (name ?? 'ietf-livecd') as DemoName;
  if (!DEMOS.includes(demo))
    throw new UsageError(`demo: unknown demo '${name}' (known: ${DEMOS.join(', ')})`);
  checkPlotPath(opts.plot);
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
          live = startLive('server → client (download)', mode, durationMs / 1000);
        },
        onPoint: (p, l) => live?.onPoint(p, l),
        onEvent: (e) => live?.onEvent(e),
      }),
    );
    await live?.finish();
    const r = out.result;
    writePlot(r, opts.plot, {
      title: `IETF live-CD demo (${out.mode === 'sim' ? 'simulated' : 'lab'}): WiFi down ${downAtMs / 1000}–${upAtMs / 1000} s`,
    });
    // the master subflow: the server connects to the client's first address, its WiFi one
    const wifi = 1;
    const during = pathMbpsBetween(r.timeline, wifi, downAtMs / 1000 + 0.5, upAtMs / 1000);
    const after = pathMbpsBetween(r.timeline, wifi, upAtMs / 1000, durationMs / 1000);
    if (opts.json)
      printJson({
        mode: out.mode,
        fallback: out.fallback,
        knobs: out.knobs,
        result: r,
        reports: out.reports,
      });
    else {
      printView(<RunSummary r={r} />);
      say(
        `WiFi (path ${wifi}): ${during.toFixed(3)} Mbit/s while down, ${after.toFixed(2)} Mbit/s after it came back`,
      );
      say('\nstate report (during the transfer):');
      for (const t of out.reports) say(t);
      say(`plot: ${opts.plot}`);
    }
    if (r.integrity !== 'ok') throw new RuntimeFailure(`demo: integrity: ${r.integrity}`);
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
      .action(action);
  },
};
