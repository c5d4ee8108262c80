/**
 * `mplab list`: the labs on this machine, from their state files, with whether their recorded
 * processes still run (a lab whose creator died mid-`up` shows as `stale`, for `down` to clean).
 */
import { running } from './agents';
import { listLabs, readState } from './state';

export interface LabSummary {
  name: string;
  /**
   * up; degraded (up, but a recorded process is gone); creating/destroying (its CLI is at work);
   * stale (left by a CLI that died mid-way: `mplab down` cleans it); failed; unreadable.
   */
  state: 'up' | 'degraded' | 'creating' | 'destroying' | 'stale' | 'failed' | 'unreadable';
  backend: string;
  file: string;
  createdAt: string;
  nodes: number;
  links: number;
  /** Recorded processes (agents, emulators…) alive / recorded. */
  processes: { alive: number; recorded: number };
}

export function listLabSummaries(): LabSummary[] {
  return listLabs().map((name): LabSummary => {
    const s = readState(name);
    if (!s)
      return {
        name,
        state: 'unreadable',
        backend: '',
        file: '',
        createdAt: '',
        nodes: 0,
        links: 0,
        processes: { alive: 0, recorded: 0 },
      };
    const pids = s.processes.flatMap((p) => (p.pid === undefined ? [] : [p.pid]));
    const live = pids.filter(running).length;
    let state: LabSummary['state'];
    if (s.phase === 'up') state = live === pids.length ? 'up' : 'degraded';
    else if (s.phase === 'failed') state = 'failed';
    else state = running(s.creator) ? s.phase : 'stale';
    return {
      name,
      state,
      backend: s.backend,
      file: s.file,
      createdAt: s.createdAt,
      nodes: s.model?.nodes.length ?? 0,
      links: s.model?.links.length ?? 0,
      processes: { alive: live, recorded: pids.length },
    };
  });
}
