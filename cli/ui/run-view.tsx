/**
 * The live view of a traffic run: one row per subflow (path index, local → remote, Mbit/s now,
 * cwnd, RTT, a sparkline of its recent throughput), the total, and the scenario events so far;
 * then the summary once the run ends.
 */
import { Box, Text } from 'ink';
import { sparkline } from '../../lab/plot/term';
import {
  describeEnds,
  flowOf,
  type RunEvent,
  type RunResult,
  type TimelinePoint,
} from '../../lab/run/result';
import type { LiveSubflow } from '../../lab/run/timeline';
import { fmtBytes } from './output';

export interface RunViewState {
  title: string;
  points: TimelinePoint[];
  live: LiveSubflow[];
  events: RunEvent[];
  /** Planned length of the run, seconds (for the progress figure). */
  plannedSeconds?: number;
  status?: string;
}

/** Sparkline width: what the terminal leaves after the figures (10..40 cells). */
function sparkWidth(): number {
  const cols = process.stdout.columns && process.stdout.columns > 0 ? process.stdout.columns : 100;
  return Math.max(10, Math.min(40, cols - 76));
}

function mbps(v: number | undefined): string {
  return v === undefined ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(2);
}

export function RunView({ s }: { s: RunViewState }) {
  const SPARK = sparkWidth();
  const last = s.points[s.points.length - 1];
  const maxAll = Math.max(0, ...s.points.slice(-SPARK).map((p) => p.total));
  const paths = [...new Set(s.live.map((l) => l.pathIndex))].sort((a, b) => a - b);
  const series = (pi: number) => s.points.map((p) => p.subflows.find((x) => x.pathIndex === pi)?.mbps ?? 0);
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>{s.title}</Text>
        {last ? (
          <Text dimColor>
            {'  '}t={last.t.toFixed(1)} s{s.plannedSeconds ? ` / ${s.plannedSeconds} s` : ''}
          </Text>
        ) : (
          <Text dimColor> connecting…</Text>
        )}
      </Text>
      <Text dimColor wrap="truncate">
        {'  path  '}
        {'local → remote'.padEnd(38)}
        {'Mbit/s'.padStart(8)}
        {'cwnd'.padStart(9)}
        {'RTT ms'.padStart(8)}
        {'  recent'}
      </Text>
      {paths.map((pi) => {
        const rows = s.live.filter((l) => l.pathIndex === pi);
        const l = rows[rows.length - 1]!;
        const now = last?.subflows.find((x) => x.pathIndex === pi)?.mbps;
        return (
          <Text key={pi} wrap="truncate">
            {'  '}
            {String(pi).padEnd(6)}
            {`${l.local} → ${l.remote}`.padEnd(38)}
            <Text color={now ? 'green' : 'red'}>{mbps(now).padStart(8)}</Text>
            {(l.cwnd !== undefined ? String(l.cwnd) : '–').padStart(9)}
            {(l.srttMs !== undefined ? l.srttMs.toFixed(1) : '–').padStart(8)}
            {'  '}
            <Text color="cyan">{sparkline(series(pi), SPARK, maxAll)}</Text>
          </Text>
        );
      })}
      <Text wrap="truncate">
        {'  '}
        <Text bold>{'total'.padEnd(44)}</Text>
        <Text bold>{mbps(last?.total).padStart(8)}</Text>
        {''.padStart(17)}
        {'  '}
        <Text color="white">
          {sparkline(
            s.points.map((p) => p.total),
            SPARK,
            maxAll,
          )}
        </Text>
      </Text>
      {s.events.map((e) => (
        <Text key={`${e.t}-${e.what}`} color="yellow">
          {'  '}
          {e.t.toFixed(3)} s {e.what}
          {e.at !== undefined ? (
            <Text dimColor>
              {' '}
              (scheduled {e.at} s, {Math.round((e.t - e.at) * 1000)} ms late)
            </Text>
          ) : null}
        </Text>
      ))}
      {s.status ? <Text dimColor>{s.status}</Text> : null}
    </Box>
  );
}

export function RunSummary({ r }: { r: RunResult }) {
  const ok = r.integrity === 'ok';
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>
          {flowOf(r).sender} → {flowOf(r).receiver}
        </Text>{' '}
        ({r.stack}
        {r.sim ? `, simulated, seed ${r.seed}` : ''}): <Text bold>{r.goodputMbps.toFixed(2)} Mbit/s</Text>{' '}
        goodput
        {r.sendSeconds !== undefined
          ? ` over ${((r.sendSeconds ?? 0) - (r.omitSeconds ?? 0)).toFixed(2)} s of sending${
              r.omitSeconds ? ` (first ${r.omitSeconds} s omitted)` : ''
            }`
          : ''}
      </Text>
      <Text dimColor>
        {'  '}
        {describeEnds(r)}
      </Text>
      <Text dimColor>
        {'  '}
        {fmtBytes(r.bytes)} in {r.seconds.toFixed(2)} s in all
        {r.drainSeconds !== undefined
          ? `, of which ${r.drainSeconds.toFixed(2)} s drain after the last write`
          : ''}
        {r.counters?.retrans !== undefined ? `; ${r.counters.retrans} retransmitted segments` : ''}
        {r.counters?.reinjectedBytes !== undefined
          ? `, ${fmtBytes(r.counters.reinjectedBytes)} reinjected`
          : ''}
        {r.counters?.oooBytes !== undefined
          ? `, ${fmtBytes(r.counters.oooBytes)} out of order at data level`
          : ''}
      </Text>
      {(r.connections ?? []).map((c) => (
        <Text key={`c${c.index}`}>
          {'  connection '}
          {String(c.index).padEnd(3)} {`${c.from} → ${c.to}`.padEnd(16)}{' '}
          {c.goodputMbps.toFixed(2).padStart(9)} Mbit/s {fmtBytes(c.bytes).padStart(10)}{' '}
          <Text color={c.integrity === 'ok' ? 'green' : 'red'}>
            {c.integrity === 'ok' ? 'ok' : c.integrity}
          </Text>
        </Text>
      ))}
      {r.bidir ? (
        <Text>
          {'  reverse '}
          {r.bidir.from} → {r.bidir.to}: <Text bold>{r.bidir.goodputMbps.toFixed(2)} Mbit/s</Text> goodput,{' '}
          {fmtBytes(r.bidir.bytes)}
        </Text>
      ) : null}
      {r.subflows.map((s) => (
        <Text key={`${s.pathIndex}-${s.local}-${s.remote}`}>
          {'  path '}
          {String(s.pathIndex).padEnd(3)} {`${s.local} → ${s.remote}`.padEnd(44)}{' '}
          {fmtBytes(s.bytes).padStart(10)}
          {r.bytes > 0 ? <Text dimColor> ({((s.bytes / r.bytes) * 100).toFixed(1)}%)</Text> : null}
        </Text>
      ))}
      {r.events.map((e) => (
        <Text key={`${e.t}-${e.what}`} color="yellow">
          {'  '}
          {e.t.toFixed(3)} s {e.what}
          {e.at !== undefined ? (
            <Text dimColor> ({Math.round((e.t - e.at) * 1000)} ms after its time)</Text>
          ) : null}
        </Text>
      ))}
      {(r.notes ?? []).map((n) => (
        <Text key={n} dimColor>
          {'  note: '}
          {n}
        </Text>
      ))}
      <Text>
        integrity:{' '}
        <Text color={ok ? 'green' : 'red'} bold>
          {ok ? 'ok (SHA-256 matches end to end)' : r.integrity}
        </Text>
      </Text>
    </Box>
  );
}
