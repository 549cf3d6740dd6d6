// The SQLite binding, chosen where the node runs. better-sqlite3 (12.x: 13 needs Node 22) is built
// from source by npm on install, against the running Node's headers, and so loads only on the Node
// it was built for; Node 22.13+ and 24 carry node:sqlite, which needs nothing built. We take the
// first that loads: better-sqlite3, then node:sqlite. Neither: the caller runs on memory state.
// Both bindings share the small synchronous surface below (exec, prepare, run/get/all, close).
import { createRequire } from 'node:module'
import { firstLine } from '../util/coded-error.ts'

export type SqlValue = string | number | bigint | null | Uint8Array
export interface SqlStatement {
  run(...params: SqlValue[]): unknown
  get(...params: SqlValue[]): unknown
  all(...params: SqlValue[]): unknown[]
}
export interface SqlDatabase {
  exec(sql: string): void
  prepare(sql: string): SqlStatement
  close(): void
}
export interface SqliteDriver { name: 'better-sqlite3' | 'node:sqlite'; open(path: string): SqlDatabase }

let chosen: { driver: SqliteDriver | null; why: string } | undefined

/** The binding this process can use, or null with the reasons none loaded (checked once). */
export function sqliteDriver(): { driver: SqliteDriver | null; why: string } {
  chosen ??= pick()
  return chosen
}

function pick(): { driver: SqliteDriver | null; why: string } {
  const reasons: string[] = []
  try {
    // CommonJS, and an optional dependency: loaded by require so a missing or mis-built one is a
    // caught error here rather than a failed import of the whole program.
    const Better = createRequire(import.meta.url)('better-sqlite3') as new (path: string) => SqlDatabase
    // Loading the JS is not enough: the native part loads on first open.
    new Better(':memory:').close()
    return { driver: { name: 'better-sqlite3', open: (path) => new Better(path) }, why: '' }
  } catch (err) {
    reasons.push(`better-sqlite3: ${firstLine(err)}`)
  }
  try {
    const mod = withoutSqliteWarning(() => process.getBuiltinModule?.('node:sqlite')) as { DatabaseSync: new (path: string) => SqlDatabase } | undefined
    if (mod?.DatabaseSync) return { driver: { name: 'node:sqlite', open: (path) => new mod.DatabaseSync(path) }, why: '' }
    reasons.push(`node:sqlite: not in Node ${process.versions.node}`)
  } catch (err) {
    reasons.push(`node:sqlite: ${firstLine(err)}`)
  }
  return { driver: null, why: reasons.join('; ') }
}

/** Node 22 prints "ExperimentalWarning: SQLite is an experimental feature" on stderr when
 * node:sqlite loads. We chose it knowingly, and a stray second line broke every command's promise
 * of one line on a fatal error (a taken --port said two things). Other warnings pass through. */
function withoutSqliteWarning<T>(load: () => T): T {
  const emit = process.emitWarning
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message
    if (/SQLite is an experimental feature/.test(text)) return
    return (emit as (...a: unknown[]) => void).call(process, warning, ...rest)
  }) as typeof process.emitWarning
  try {
    return load()
  } finally {
    process.emitWarning = emit
  }
}
