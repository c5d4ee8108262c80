/**
 * The CLI called in-process as a user would call it, with what it prints captured: one home for the
 * stdout/stderr capture every CLI test needs (vitest spies restored even when main throws).
 */
import { vi } from 'vitest';
import { main } from '../../cli/main';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export async function runCli(args: string[]): Promise<CliResult> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    return true;
  });
  try {
    return { code: await main(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
