/**
 * Drives the live run view: an ink view redrawn at most every 100 ms on a terminal; on a pipe, one
 * plain line per second of run time (so logs show the timeline too); nothing with --json; with
 * --json-stream one JSON object per line as the run goes (iperf3's --json-stream): `{"event":
 * "interval", "data": <TimelinePoint>}` per interval, `{"event": "event", "data": <RunEvent>}` per
 * scenario event; the command ends the stream with `{"event": "end", "data": <RunResult>}`.
 */
import { render } from 'ink';
import type { RunEvent, TimelinePoint } from '../../lab/run/result';
import type { LiveSubflow } from '../../lab/run/timeline';
import { RunView, type RunViewState } from './run-view';

export interface Live {
  onPoint: (p: TimelinePoint, live: LiveSubflow[]) => void;
  onEvent: (e: RunEvent) => void;
  status: (text: string) => void;
  /** Draws the final state and stops rendering. */
  finish: () => Promise<void>;
}

export type LiveMode = 'ink' | 'lines' | 'stream' | 'off';

export function liveMode(json: boolean | undefined, jsonStream?: boolean): LiveMode {
  if (jsonStream) return 'stream';
  if (json) return 'off';
  return process.stdout.isTTY ? 'ink' : 'lines';
}

export function startLive(title: string, mode: LiveMode, plannedSeconds?: number): Live {
  const s: RunViewState = { title, points: [], live: [], events: [] };
  if (plannedSeconds !== undefined) s.plannedSeconds = plannedSeconds;
  const ink = mode === 'ink' ? render(<RunView s={{ ...s }} />, { patchConsole: false }) : undefined;
  let lastDraw = 0;
  let lastLine = -1;
  const draw = (force = false) => {
    if (!ink) return;
    const t = performance.now();
    if (!force && t - lastDraw < 100) return;
    lastDraw = t;
    ink.rerender(<RunView s={{ ...s, points: [...s.points], live: [...s.live], events: [...s.events] }} />);
  };
  const emit = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
  return {
    onPoint(p, live) {
      if (mode === 'stream') emit({ event: 'interval', data: p });
      s.points.push(p);
      s.live = live;
      if (mode === 'lines' && Math.floor(p.t) > lastLine) {
        lastLine = Math.floor(p.t);
        const per = p.subflows.map((x) => `path ${x.pathIndex} ${x.mbps.toFixed(2)}`).join('  ');
        process.stdout.write(
          `  t=${p.t.toFixed(1).padStart(5)} s  goodput ${p.total.toFixed(2).padStart(7)} Mbit/s  wire: ${per}\n`,
        );
      }
      draw();
    },
    onEvent(e) {
      if (mode === 'stream') emit({ event: 'event', data: e });
      s.events.push(e);
      if (mode === 'lines') process.stdout.write(`  t=${e.t.toFixed(3)} s  event: ${e.what}\n`);
      draw(true);
    },
    status(text) {
      s.status = text;
      if (mode === 'lines') process.stdout.write(`${text}\n`);
      draw(true);
    },
    async finish() {
      if (!ink) return;
      draw(true);
      ink.unmount();
      await ink.waitUntilExit();
    },
  };
}
