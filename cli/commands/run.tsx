import { rmSync } from 'node:fs';
import type { Command } from 'commander';
import { errorJson, RuntimeFailure, UsageError } from '../../lab/errors';
import { Lab } from '../../lab/lab';
import { runTraffic } from '../../lab/run/index';
import { checkPlotPath, writePlot } from '../../lab/run/plot';
import type { RunResult } from '../../lab/run/result';
import type { RunSpec } from '../../lab/run/spec';
import { loadEvents } from '../../lab/scenario/load';
import { openCapture, parseCaptureAt } from '../../lab/sim/capture';
import { simulateRunLive } from '../../lab/sim/run';
import { loadTopology } from '../../lab/topology/index';
import type { LabModel, ScenarioEvent } from '../../lab/topology/model';
import { TopologyError } from '../../lab/topology/model';
import { printJson, printView } from '../ui/output';
import { parseBytesArg, parsePortArg, parseSeedArg, parseStackArg, parseTimeArg } from '../ui/run-args';
import { liveMode, startLive } from '../ui/run-live';
import { RunSummary } from '../ui/run-view';
import type { CommandModule } from './types';

export interface RunOpts {
  lab?: string;
  topology?: string;
  bytes?: string;
  time?: string;
  stack: string;
  events?: string | false;
  interval: string;
  json?: boolean;
  jsonStream?: boolean;
  omit?: string;
  parallel?: string;
  bidir?: boolean;
  plot?: string;
  sim?: boolean;
  seed?: string;
  port?: string;
  reverse?: boolean;
  capture?: string;
  captureAt?: string;
}

/** Loads topology-like inputs, turning position errors into usage errors (exit 2). */
export async function usage<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof TopologyError) throw new UsageError(e.format(), e.issues);
    throw e;
  }
}

function eventsFor(model: LabModel, opt: string | false | undefined): Promise<ScenarioEvent[]> {
  if (opt === false) return Promise.resolve([]);
  if (opt === undefined) return Promise.resolve(model.events);
  return usage(() => loadEvents(opt, model));
}

/** Prints the outcome (JSON or summary), writes the plot; exit 1 when integrity failed. */
export function finishRun(
  result: RunResult,
  opts: { json?: boolean; jsonStream?: boolean; plot?: string },
): void {
  if (opts.plot) writePlot(result, opts.plot);
  // A failed run's JSON is still one document (or one last line): the result with its error.
  const failure =
    result.integrity !== 'ok' ? new RuntimeFailure(`run: integrity: ${result.integrity}`) : undefined;
  const out = failure ? { ...result, ...errorJson(failure) } : result;
  if (opts.jsonStream) process.stdout.write(`${JSON.stringify({ event: 'end', data: out })}\n`);
  else if (opts.json) printJson(out);
  else {
    printView(<RunSummary r={result} />);
    if (opts.plot) process.stdout.write(`plot: ${opts.plot}\n`);
  }
  if (failure) {
    failure.jsonReported = !!(opts.json || opts.jsonStream);
    throw failure;
  }
}

async function action(from: string, to: string, opts: RunOpts): Promise<void> {
  if (opts.bytes !== undefined && opts.time !== undefined)
    throw new UsageError('run: give --bytes or --time, not both');
  if (opts.plot) checkPlotPath(opts.plot);
  const stack = parseStackArg(opts.stack);
  const spec: RunSpec = { from, to, stack, intervalMs: parseTimeArg(opts.interval, '--interval') };
  if (opts.bytes !== undefined) spec.bytes = parseBytesArg(opts.bytes);
  else spec.timeMs = opts.time !== undefined ? parseTimeArg(opts.time) : 10_000;
  if (opts.port !== undefined) spec.port = parsePortArg(opts.port);
  if (opts.omit !== undefined) spec.omitMs = parseTimeArg(opts.omit, '--omit');
  if (opts.parallel !== undefined) {
    if (!/^\d+$/.test(opts.parallel))
      throw new UsageError(`--parallel ${opts.parallel}: expected a whole number`);
    spec.parallel = Number(opts.parallel);
  }
  if (opts.bidir) spec.bidir = true;
  if (opts.json && opts.jsonStream) throw new UsageError('run: give --json or --json-stream, not both');
  if (opts.reverse) spec.reverse = true;
  // who sends to whom (with --reverse <from> still opens the connection)
  const flow = opts.reverse ? `${to} → ${from}, ${from} connects` : `${from} → ${to}`;
  if (opts.seed !== undefined && !opts.sim) throw new UsageError('run: --seed goes with --sim');
  if ((opts.capture !== undefined || opts.captureAt !== undefined) && !opts.sim)
    throw new UsageError(
      'run: --capture goes with --sim (in a lab, run `mplab capture NODE -o FILE` beside the run)',
    );
  if (opts.captureAt !== undefined && opts.capture === undefined)
    throw new UsageError('run: --capture-at needs --capture FILE');

  if (opts.sim) {
    const model = opts.topology
      ? await usage(() => loadTopology(opts.topology as string))
      : Lab.open(opts.lab).model;
    spec.events = await eventsFor(model, opts.events);
    const seed = opts.seed !== undefined ? parseSeedArg(opts.seed) : 1;
    const live = startLive(
      `mplab run ${flow} (${stack}, simulated)`,
      liveMode(opts.json, opts.jsonStream),
      spec.timeMs ? spec.timeMs / 1000 : undefined,
    );
    const capture = opts.capture
      ? { at: parseCaptureAt(model, opts.captureAt ?? from), writer: openCapture(opts.capture) }
      : undefined;
    let out: Awaited<ReturnType<typeof simulateRunLive>>;
    try {
      out = await simulateRunLive(model, spec, {
        seed,
        onPoint: live.onPoint,
        onEvent: live.onEvent,
        ...(capture ? { capture } : {}),
      });
    } catch (e) {
      // nothing half-written left behind
      capture?.writer.close();
      if (opts.capture) rmSync(opts.capture, { force: true });
      throw e;
    }
    capture?.writer.close();
    await live.finish();
    finishRun(out.result, opts);
    return;
  }
  if (opts.topology)
    throw new UsageError('run: --topology goes with --sim (a real run uses a lab that is up)');
  const lab = Lab.open(opts.lab);
  spec.events = await eventsFor(lab.model, opts.events);
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  const live = startLive(
    `mplab run ${flow} (${stack}) in ${lab.name}`,
    liveMode(opts.json, opts.jsonStream),
    spec.timeMs ? spec.timeMs / 1000 : undefined,
  );
  try {
    const out = await runTraffic(lab, spec, {
      onPoint: live.onPoint,
      onEvent: live.onEvent,
      signal: ac.signal,
    });
    await live.finish();
    finishRun(out.result, opts);
  } finally {
    await live.finish();
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
}

export const run: CommandModule = {
  name: 'run',
  register(program: Command) {
    program
      .command('run <from> <to>')
      .description(
        'run a bulk transfer between two nodes and watch its subflows (<from> connects to <to> and sends; with --reverse <to> sends)',
      )
      .option('-l, --lab <name>', 'the lab (may be omitted when exactly one lab is up)')
      .option('--bytes <n>', 'send this many bytes (e.g. 10000000, 10mb)')
      .option('--time <t>', 'send for this long (e.g. 10s, 2min; default 10s)')
      .option(
        '--stack <kind>',
        'ts (our stack, via the agents), kernel (Linux MPTCP) or tcp (plain kernel TCP)',
        'ts',
      )
      .option('--events <file>', "scenario events (YAML, same syntax as a topology's events:)")
      .option('--no-events', "ignore the topology's events")
      .option('--interval <t>', 'timeline interval', '100ms')
      .option('--json', 'print the run result as JSON')
      .option('--json-stream', 'print one JSON object per interval while running, then the result')
      .option('-P, --parallel <n>', 'run N connections at once, each checked (iperf3 -P)')
      .option('--bidir', 'as many connections the other way at the same time (iperf3 --bidir)')
      .option('--omit <t>', 'leave the first T out of the figures (slow start; iperf3 -O), e.g. 1s')
      .option('--plot <file>', 'write a throughput plot: .svg or .png')
      .option('--sim', 'run in the deterministic simulator instead of a lab')
      .option('--seed <n>', 'simulator seed (with --sim; default 1)')
      .option('-t, --topology <file>', 'with --sim: the topology to simulate (default: the lab that is up)')
      .option(
        '--capture <file>',
        'with --sim: write a pcap of what a node sent and received (TCP/MPTCP as IP packets)',
      )
      .option(
        '--capture-at <node[:iface]>',
        'with --capture: the node (or one interface) to capture at (default: <from>)',
      )
      .option('--port <n>', 'port the connection goes to (on <to>)')
      .option('--reverse', '<to> sends to <from> over the connection <from> opens (like iperf3 -R)')
      .action(action);
  },
};
