// The loader: YAML text → position-keeping parse → zod validation → semantic checks and planning.
// Every problem becomes a TopologyIssue naming file:line:col; all are collected, then thrown as
// one TopologyError.

import { resolve } from 'node:path';
import { isMap, isScalar } from 'yaml';
import type * as z from 'zod';
import type { BackendKind, LabModel, LoadOverrides } from './model';
import { TopologyError } from './model';
import { plan } from './plan';
import { type Issues, type Path, parseYaml, readSource } from './positions';
import { type RawTopology, topologySchema } from './schema';
import { didYouMean } from './suggest';

/** Reads, validates and plans a topology file. Throws TopologyError on any bad input. */
export async function loadTopology(file: string, overrides: LoadOverrides = {}): Promise<LabModel> {
  return parseTopology(readSource(file, 'topology'), file, overrides);
}

/**
 * Same as loadTopology, from source text already in memory. `file` names the file in messages
 * and anchors relative paths (traces); LabModel.file is its absolute form.
 */
export function parseTopology(source: string, file: string, overrides: LoadOverrides = {}): LabModel {
  const { doc, issues } = parseYaml(source, file, { merge: true });
  if (issues.count > 0) throw new TopologyError(issues.sorted());

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 10_000 });
  } catch (e) {
    throw new TopologyError([{ file, line: 1, col: 1, message: `YAML: ${(e as Error).message}` }]);
  }
  if (data === null || data === undefined || typeof data !== 'object' || Array.isArray(data))
    throw new TopologyError([
      {
        file,
        line: 1,
        col: 1,
        message: 'expected a mapping at the top of the file with "name", "nodes" and "links"',
      },
    ]);

  let backend: BackendKind | undefined;
  if (overrides.backend !== undefined) {
    if (overrides.backend !== 'netns' && overrides.backend !== 'docker' && overrides.backend !== 'vm')
      issues.list.push({
        file,
        line: 1,
        col: 1,
        message: `--backend "${overrides.backend}": expected netns, docker or vm${didYouMean(overrides.backend, ['netns', 'docker', 'vm'])}`,
      });
    else backend = overrides.backend;
  }

  // Top-level keys "x-…" are free (as in compose files): a place for YAML anchors to reuse.
  for (const k of Object.keys(data)) if (k.startsWith('x-')) delete (data as Record<string, unknown>)[k];
  const parsed = topologySchema.safeParse(data);
  if (!parsed.success) {
    for (const iss of parsed.error.issues) reportZodIssue(iss, data, issues);
    throw new TopologyError(issues.sorted());
  }
  const nodesNode = doc.get('nodes', true);
  const nodeOrder = isMap(nodesNode)
    ? nodesNode.items.map((p) => String(isScalar(p.key) ? p.key.value : p.key))
    : undefined;
  const model = plan(parsed.data as RawTopology, issues, {
    ...(nodeOrder ? { nodeOrder } : {}),
    file: resolve(file),
    ...(overrides.name !== undefined ? { name: overrides.name } : {}),
    ...(backend !== undefined ? { backend } : {}),
    ...(overrides.hosts !== undefined ? { hosts: overrides.hosts } : {}),
  });
  if (!model || issues.count > 0) throw new TopologyError(issues.sorted());
  return model;
}

// ------------------------------------------------------------------------------------ zod issues

function valueAt(data: unknown, path: Path): { found: boolean; value: unknown } {
  let cur: unknown = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return { found: false, value: undefined };
    const o = cur as Record<PropertyKey, unknown>;
    if (!(seg in o)) return { found: false, value: undefined };
    cur = o[seg];
  }
  return { found: true, value: cur };
}

function describe(v: unknown): string {
  if (v === null) return 'nothing (null)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string "${v}"`;
  return `the ${typeof v} ${String(v)}`;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  record: 'a mapping',
  tuple: 'a list',
};

// biome-ignore lint/suspicious/noExplicitAny: walks zod's internal definitions
type AnySchema = any;

/** The object keys allowed at `path` in the schema (for did-you-mean on unknown keys). */
export function knownKeysAt(path: Path): string[] {
  let s: AnySchema = topologySchema;
  const unwrap = (x: AnySchema): AnySchema => {
    for (;;) {
      const def = x?._zod?.def;
      if (!def) return x;
      if (def.type === 'optional' || def.type === 'nullable' || def.type === 'default') x = def.innerType;
      else if (def.type === 'pipe') x = def.in;
      else return x;
    }
  };
  for (const seg of path) {
    s = unwrap(s);
    const def = s?._zod?.def;
    if (!def) return [];
    if (def.type === 'object') s = def.shape[seg as string];
    else if (def.type === 'record') s = def.valueType;
    else if (def.type === 'array') s = def.element;
    else if (def.type === 'tuple') s = def.items[seg as number];
    else return [];
  }
  s = unwrap(s);
  const def = s?._zod?.def;
  return def?.type === 'object' ? Object.keys(def.shape) : [];
}

function reportZodIssue(iss: z.core.$ZodIssue, data: unknown, issues: Issues): undefined {
  const path = iss.path as Path;
  const custom = !iss.message.startsWith('Invalid');
  switch (iss.code) {
    case 'unrecognized_keys': {
      const known = knownKeysAt(path);
      for (const k of iss.keys) {
        const hint = didYouMean(k, known);
        issues.atKey(
          [...path, k],
          `unknown key "${k}"${hint}${hint ? '' : known.length ? `; expected one of: ${known.join(', ')}` : ''}`,
        );
      }
      return;
    }
    case 'invalid_key': {
      const inner = iss.issues[0];
      const msg = inner && !inner.message.startsWith('Invalid') ? inner.message : 'invalid name';
      issues.atKey(path, `"${String(path[path.length - 1])}": ${msg}`);
      return;
    }
    case 'invalid_type': {
      const v = valueAt(data, path);
      if (!v.found) {
        const key = String(path[path.length - 1]);
        issues.at(path, `missing required key "${key}" (${EXPECTED[iss.expected] ?? iss.expected})`);
        return;
      }
      if (custom) return issues.at(path, iss.message);
      issues.at(path, `expected ${EXPECTED[iss.expected] ?? iss.expected}, got ${describe(v.value)}`);
      return;
    }
    case 'invalid_value': {
      const v = valueAt(data, path);
      if (custom) return issues.at(path, iss.message);
      const allowed = iss.values.map((x) => (typeof x === 'string' ? x : String(x)));
      const got = v.value;
      issues.at(
        path,
        allowed.length === 1
          ? `expected ${allowed[0]}, got ${describe(got)}`
          : `expected one of ${allowed.join(', ')}, got ${describe(got)}` +
              (typeof got === 'string' ? didYouMean(got, allowed) : ''),
      );
      return;
    }
    case 'too_small':
    case 'too_big': {
      if (custom) return issues.at(path, iss.message);
      const limit = iss.code === 'too_small' ? iss.minimum : iss.maximum;
      const word = iss.code === 'too_small' ? 'at least' : 'at most';
      const unit =
        iss.origin === 'string'
          ? ' characters'
          : iss.origin === 'array' || iss.origin === 'set'
            ? ' items'
            : '';
      issues.at(path, `must be ${word} ${String(limit)}${unit}`);
      return;
    }
    case 'invalid_union': {
      // Prefer the first branch's own message (our unit parsers explain themselves).
      const first = iss.errors[0]?.[0];
      issues.at(path, first && !first.message.startsWith('Invalid') ? first.message : iss.message);
      return;
    }
    default:
      issues.at(path, iss.message);
  }
}
