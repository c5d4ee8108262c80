import type { LabModel, LoadOverrides } from './model';
import { TopologyError } from './model';

/** Reads, validates and plans a topology file. Throws TopologyError on any bad input. */
export async function loadTopology(file: string, overrides: LoadOverrides = {}): Promise<LabModel> {
  return parseTopology('', file, overrides);
}

/** Same as loadTopology, from source text already in memory (`file` is used in messages). */
export function parseTopology(_source: string, file: string, _overrides: LoadOverrides = {}): LabModel {
  // Implementation lands in the next commits (validation, planning).
  throw new TopologyError([{ file, line: 1, col: 1, message: 'topology loader not implemented yet' }]);
}
