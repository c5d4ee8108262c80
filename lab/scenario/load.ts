/**
 * Scenario events from a YAML file (`mplab run --events FILE`): the same syntax as a topology's
 * `events:` (the topology's own event schema), either as a list at the top of the file or under an
 * `events:` key. Links and nodes are resolved against the lab's model; every problem names
 * file:line:col, and all are thrown at once as a TopologyError (the CLI turns it into exit 2).
 */
import { dirname, resolve } from 'node:path';
import { isMap } from 'yaml';
import * as z from 'zod';
import type { LabModel, ScenarioEvent } from '../topology/model';
import { TopologyError } from '../topology/model';
import { planEvents } from '../topology/plan';
import { type Path, parseYaml, readSource } from '../topology/positions';
import { eventSchema } from '../topology/schema';
import { didYouMean } from '../topology/suggest';

const eventsSchema = z.array(eventSchema);

/** Reads and resolves an events file against a lab model. */
export function loadEvents(file: string, model: LabModel): ScenarioEvent[] {
  const source = readSource(file, 'events');
  return parseEvents(source, file, model);
}

export function parseEvents(source: string, file: string, model: LabModel): ScenarioEvent[] {
  const { doc, issues } = parseYaml(source, file);
  if (issues.count > 0) throw new TopologyError(issues.sorted());
  const data: unknown = doc.toJS();
  let prefix: Path = [];
  let list: unknown = data;
  if (isMap(doc.contents)) {
    const keys = Object.keys(data as object);
    const extra = keys.filter((k) => k !== 'events');
    if (extra.length > 0) {
      for (const k of extra)
        issues.atKey([k], `unknown key "${k}"; an events file holds a list, or "events:"`);
      throw new TopologyError(issues.sorted());
    }
    prefix = ['events'];
    list = (data as { events?: unknown }).events ?? [];
  } else if (data === null || data === undefined) list = [];
  const parsed = eventsSchema.safeParse(list);
  if (!parsed.success) {
    for (const iss of parsed.error.issues) {
      const path = [...prefix, ...(iss.path as PropertyKey[])];
      if (iss.code === 'unrecognized_keys') {
        for (const k of iss.keys) {
          const known = Object.keys(eventSchema.shape);
          const hint = didYouMean(k, known);
          issues.atKey([...path, k], `unknown key "${k}"${hint || `; expected one of: ${known.join(', ')}`}`);
        }
      } else if (iss.code === 'invalid_type' && iss.path.length === 0) {
        issues.at(path, 'expected a list of events (or "events:" with a list)');
      } else
        issues.at(path, iss.message.startsWith('Invalid') ? `${iss.message.toLowerCase()}` : iss.message);
    }
    throw new TopologyError(issues.sorted());
  }
  const out = planEvents(parsed.data, prefix, issues, model.links, model.nodes, dirname(resolve(file)));
  if (issues.count > 0) throw new TopologyError(issues.sorted());
  return out;
}
