// The collaborators ingest classes take in their `components` argument, kept structural so any
// logger (console, pino-like) and any clock (real, fake) fits without an adapter.

export interface IngestLogger {
  debug(msg: string): void
  info(msg: string): void
  warn(msg: string): void
  error(msg: string): void
}

/** Wall clock, ms since epoch. */
export type { Clock as IngestClock } from '../util/timers.ts'
export { systemClock } from '../util/timers.ts'

/** A logger that drops everything, for tools and tests that do not care. */
export { silentLogger } from '../util/logger.ts'
