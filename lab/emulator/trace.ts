/** Reads a Mahimahi trace file for the emulator; the parser is the link model's (stack/link/trace.ts). */
import { readFileSync } from 'node:fs';
import { parseTrace, type Trace } from '../../stack/link/trace';

export { parseTrace, type Trace, TraceCursor, TraceError, TRACE_MTU } from '../../stack/link/trace';

export function loadTrace(path: string): Trace {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read trace ${path}: ${(e as Error).message}`);
  }
  return parseTrace(text, path);
}
