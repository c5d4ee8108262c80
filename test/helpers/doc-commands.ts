/**
 * The mplab command lines the documentation shows: every line of a shell code block in README.md
 * and docs/*.md that runs `mplab` (or `npx mplab`), with its file and line, the prompt and trailing
 * comment removed, continuation lines joined, and its words split as sh would.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitWords } from '../../cli/shell/words';

export interface DocCommand {
  file: string;
  line: number;
  text: string;
  /** The words after `mplab`. */
  argv: string[];
}

const SHELL_FENCE = /^```(sh|bash|shell|console)?\s*$/;

function stripComment(line: string): string {
  // a # that starts a word begins a comment (sh's rule); quotes are rare enough in docs to ignore
  const m = /(^|\s)#/.exec(line);
  return (m ? line.slice(0, m.index) : line).trimEnd();
}

export function docCommands(root: string): DocCommand[] {
  const files = [
    'README.md',
    ...readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  const out: DocCommand[] = [];
  for (const file of files) {
    const lines = readFileSync(join(root, file), 'utf8').split('\n');
    let inBlock = false;
    let shell = false;
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i] as string;
      if (raw.startsWith('```')) {
        if (!inBlock) {
          inBlock = true;
          shell = SHELL_FENCE.test(raw);
        } else inBlock = false;
        continue;
      }
      if (!inBlock || !shell) continue;
      let text = stripComment(raw.replace(/^\s*\$\s+/, '').trim());
      const start = i + 1;
      while (text.endsWith('\\') && i + 1 < lines.length)
        text = `${text.slice(0, -1)} ${stripComment((lines[++i] as string).trim())}`;
      // `a && b`, `a | b`, `a > f`: each mplab command of the line, up to the operator
      for (const part of text.split(/\s*(?:&&|\|\||;|\|)\s*/)) {
        const words = splitWords(part.replace(/\s+[12]?>\s*\S+/g, ''));
        const at = words[0] === 'npx' ? 1 : 0;
        if (words[at] !== 'mplab') continue;
        out.push({ file, line: start, text: part, argv: words.slice(at + 1) });
      }
    }
  }
  return out;
}
