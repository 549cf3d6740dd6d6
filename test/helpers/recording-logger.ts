// A Logger that keeps every line with its level, for tests that assert what was warned and how often.
import type { Logger } from '../../src/util/logger.ts'

export type RecordingLogger = Logger & { lines: Array<[string, string]> }

export function recordingLogger(): RecordingLogger {
  const lines: Array<[string, string]> = []
  const l: RecordingLogger = {
    lines,
    debug: (m: string) => { lines.push(['debug', m]) }, info: (m: string) => { lines.push(['info', m]) },
    warn: (m: string) => { lines.push(['warn', m]) }, error: (m: string) => { lines.push(['error', m]) },
    child: () => l,
  }
  return l
}
