// The base of every typed error: a stable `code` that callers and tests match on (never the
// message), and the class name as `name` so logs say which layer failed.
export class CodedError<C extends string> extends Error {
  readonly code: C
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

/** An error's first line, for one-line logs. */
export function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0]
}
