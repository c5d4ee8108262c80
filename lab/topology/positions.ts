// Maps a path in the parsed data (["links", 0, "rate"]) back to a line and column of the YAML
// source, so every problem names file:line:col.

import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { readFileSync } from 'node:fs';
import { TopologyError, type TopologyIssue } from './model';

export type Path = readonly PropertyKey[];

export class SourceMap {
  constructor(
    readonly file: string,
    private readonly doc: Document | undefined,
    private readonly lc: LineCounter | undefined,
  ) {}

  linePos(offset: number): { line: number; col: number } {
    if (!this.lc) return { line: 1, col: 1 };
    const p = this.lc.linePos(offset);
    return { line: p.line, col: p.col };
  }

  /**
   * Offset of the value at `path` (or of its key when `key` is true). When the path does not exist
   * (a missing key), the position of the deepest entry that does: the key naming the object.
   */
  offset(path: Path, key = false): number {
    const doc = this.doc;
    if (!doc) return 0;
    // biome-ignore lint/suspicious/noExplicitAny: yaml's node union is awkward to narrow generically
    let node: any = doc.contents;
    let anchor = node?.range?.[0] ?? 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      const last = i === path.length - 1;
      if (isAlias(node)) node = node.resolve(doc);
      if (isMap(node)) {
        const pair = node.items.find((p) => {
          const k = p.key;
          return isScalar(k) ? String(k.value) === String(seg) : String(k) === String(seg);
        });
        if (!pair) return anchor;
        // biome-ignore lint/suspicious/noExplicitAny: see above
        const k: any = pair.key;
        const keyOff: number = k?.range?.[0] ?? anchor;
        if (last && key) return keyOff;
        anchor = keyOff;
        // biome-ignore lint/suspicious/noExplicitAny: see above
        const v: any = pair.value;
        if (v === null || v === undefined || (isScalar(v) && v.value === null && v.source === undefined)) {
          if (last) return keyOff;
          return anchor;
        }
        node = v;
      } else if (isSeq(node)) {
        const item = typeof seg === 'number' ? node.items[seg] : undefined;
        // biome-ignore lint/suspicious/noExplicitAny: see above
        const it: any = item;
        if (!it?.range) return anchor;
        anchor = it.range[0];
        node = it;
      } else return anchor;
    }
    if (isAlias(node)) return node.range?.[0] ?? anchor;
    return node?.range?.[0] ?? anchor;
  }

  issue(path: Path, message: string, key = false): TopologyIssue {
    const p = this.linePos(this.offset(path, key));
    return { file: this.file, line: p.line, col: p.col, message };
  }
}

/** Collects issues; kept in source order when thrown. */
export class Issues {
  readonly list: TopologyIssue[] = [];
  constructor(readonly src: SourceMap) {}
  /** Records a problem; returns undefined so callers can `return issues.at(…)`. */
  at(path: Path, message: string, key = false): undefined {
    this.list.push(this.src.issue(path, message, key));
    return undefined;
  }
  /** At the key that names the last path element (e.g. an unknown or duplicate name). */
  atKey(path: Path, message: string): undefined {
    return this.at(path, message, true);
  }
  get count(): number {
    return this.list.length;
  }
  /** In source order, without exact duplicates (one setting checked for both directions). */
  sorted(): TopologyIssue[] {
    const seen = new Set<string>();
    const out: TopologyIssue[] = [];
    for (const i of this.list) {
      const k = `${i.line}:${i.col}:${i.message}`;
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(i);
    }
    return out.sort((a, b) => a.line - b.line || a.col - b.col);
  }
}

/**
 * The text of an input file (`what`: "topology", "campaign", "events"); a file that cannot be read
 * throws a TopologyError at file:1:1 saying why.
 */
export function readSource(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(e);
    throw new TopologyError([{ file, line: 1, col: 1, message: `cannot read the ${what} file: ${why}` }]);
  }
}

/** A YAML file parsed with positions kept: the document, its source map and the issues found so far. */
export interface ParsedYaml {
  readonly doc: Document;
  readonly src: SourceMap;
  readonly issues: Issues;
}

/**
 * Parses YAML text keeping positions (unique keys; `merge` enables `<<:` merge keys). Every syntax
 * error is recorded in `issues` as "YAML syntax: …" at its file:line:col (an unclosed `[`/`{` at its
 * opener; a duplicate key by name); the caller throws when `issues.count > 0`.
 */
export function parseYaml(source: string, file: string, opts: { merge?: boolean } = {}): ParsedYaml {
  const lc = new LineCounter();
  const doc = parseDocument(source, {
    lineCounter: lc,
    prettyErrors: false,
    uniqueKeys: true,
    ...(opts.merge ? { merge: true } : {}),
  });
  const src = new SourceMap(file, doc, lc);
  const issues = new Issues(src);
  for (const err of doc.errors) {
    let offset = err.pos[0];
    let message = err.message.split('\n')[0]!;
    const flow = /^Flow (sequence|mapping)/.exec(message);
    if (flow) {
      // The parser notices an unclosed [ or { where the text ends; point at the opener instead.
      const opener = flow[1] === 'sequence' ? '[' : '{';
      const at = unclosedOpener(source, offset, opener);
      if (at >= 0) {
        offset = at;
        message = `unclosed "${opener}": this flow ${flow[1]} must end with "${opener === '[' ? ']' : '}'}"`;
      }
    }
    const p = src.linePos(offset);
    if (err.code === 'DUPLICATE_KEY') {
      const key = source.slice(err.pos[0], err.pos[1]).trim();
      message = `duplicate key "${key}": each key (and each node name) may appear once in a mapping`;
    }
    issues.list.push({ file, line: p.line, col: p.col, message: `YAML syntax: ${message}` });
  }
  return { doc, src, issues };
}

/** Offset of the last `opener` before `end` that is not closed before `end`, or -1. */
function unclosedOpener(source: string, end: number, opener: '[' | '{'): number {
  const closer = opener === '[' ? ']' : '}';
  let depth = 0;
  for (let i = Math.min(end, source.length) - 1; i >= 0; i--) {
    const c = source[i];
    if (c === closer) depth++;
    else if (c === opener) {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}
