/**
 * Errors that carry their exit code, so the CLI (and scripts) can tell a user's mistake from a
 * failure of the machine: 2 = usage or validation error (nothing was created), 1 = runtime failure
 * (whatever was half-built has been cleaned up).
 */
export class MplabError extends Error {
  /** Set when the command already printed this failure as part of its JSON output. */
  jsonReported = false;
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Where in an input file a problem is (topology, campaign, events files). */
export interface ErrorPosition {
  file: string;
  line: number;
  col: number;
  message: string;
}

/** Bad arguments or input: exit 2. `positions` say where, for input files. */
export class UsageError extends MplabError {
  constructor(
    message: string,
    readonly positions: readonly ErrorPosition[] = [],
  ) {
    super(message, 2);
  }
}

/** The machine or a node failed at run time: exit 1. */
export class RuntimeFailure extends MplabError {
  constructor(message: string) {
    super(message, 1);
  }
}

export function exitCodeOf(err: unknown): 1 | 2 {
  if (err instanceof MplabError) return err.exitCode;
  // a file's validation errors (TopologyError and the like carry their positions as `issues`)
  if (err instanceof Error && Array.isArray((err as { issues?: unknown }).issues)) return 2;
  if (err && typeof err === 'object' && 'exitCode' in err && (err as { exitCode: unknown }).exitCode === 2)
    return 2;
  return 1;
}

/**
 * An error as JSON, for `--json` output: `{"error": {"code", "message", "file", "line", "col"}}`,
 * the position being the first of the input file's problems; `issues` lists them all.
 */
export function errorJson(
  err: unknown,
  code: 1 | 2 = exitCodeOf(err),
): {
  error: {
    code: number;
    message: string;
    file?: string;
    line?: number;
    col?: number;
    issues?: ErrorPosition[];
  };
} {
  const message = err instanceof Error ? err.message : String(err);
  const positions: readonly ErrorPosition[] =
    err instanceof UsageError
      ? err.positions
      : err instanceof Error && Array.isArray((err as { issues?: unknown }).issues)
        ? (err as unknown as { issues: ErrorPosition[] }).issues
        : [];
  const out: ReturnType<typeof errorJson>['error'] = { code, message };
  const first = positions[0];
  if (first) {
    out.file = first.file;
    out.line = first.line;
    out.col = first.col;
    if (positions.length > 1) out.issues = [...positions];
  }
  return { error: out };
}
