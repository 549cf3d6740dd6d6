// The node's persistent state in SQLite (<dir>/state.db): peers with their keys, scores and bans,
// the DHT's routing table and the announcements others made to us, shared-file metadata and the
// transfers in progress. The files themselves and their verified-block bitmaps stay where they are
// (shared/, incoming/): this is the state around them.
//
// Durability: WAL with synchronous=NORMAL, so a committed transaction survives the process being
// killed at any instant (kill -9); each snapshot is one transaction, so a crash leaves the previous
// snapshot or the next, never half of one. A write that fails (a full disk, a read-only folder)
// rolls back, leaves the database as it was, logs one line, and the node goes on with its memory
// state; the next write that works says so. The schema is versioned (PRAGMA user_version) and
// migrated forward step by step at open; a database from a newer version is left untouched.
import { join } from 'node:path'
import type { Logger } from '../util/logger.ts'
import { sqliteDriver } from './sqlite-driver.ts'
import { firstLine } from '../util/coded-error.ts'
import type { SqlDatabase, SqliteDriver, SqlValue } from './sqlite-driver.ts'

export const STATE_FILE = 'state.db'

/** Schema steps; step i brings user_version from i to i + 1. Append, never edit a shipped step. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE peers (addr TEXT PRIMARY KEY, public_key TEXT, rtt_ms REAL, last_heard INTEGER NOT NULL,
     penalty REAL NOT NULL, penalty_at INTEGER NOT NULL, banned_until INTEGER NOT NULL, origin TEXT NOT NULL);
   CREATE TABLE dht_contacts (addr TEXT PRIMARY KEY, key TEXT NOT NULL, last_seen INTEGER NOT NULL);
   CREATE TABLE dht_providers (id TEXT NOT NULL, addr TEXT NOT NULL, expires INTEGER NOT NULL, PRIMARY KEY (id, addr));
   CREATE TABLE dht_keywords (word TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL, addr TEXT NOT NULL,
     expires INTEGER NOT NULL, PRIMARY KEY (word, id, addr));
   CREATE TABLE files (id TEXT PRIMARY KEY, name TEXT, size INTEGER NOT NULL, shared_at INTEGER NOT NULL);
   CREATE TABLE transfers (id TEXT PRIMARY KEY, name TEXT, started_at INTEGER NOT NULL);`,
]

export interface PeerRow { addr: string; publicKey: string | null; rttMs: number | null; lastHeard: number; penalty: number; penaltyAt: number; bannedUntil: number; origin: string }
export interface ContactRow { addr: string; key: string; lastSeen: number }
export interface ProviderRow { id: string; addr: string; expires: number }
export interface KeywordRow { word: string; id: string; name: string; size: number; addr: string; expires: number }
export interface FileRow { id: string; name: string | null; size: number; sharedAt: number }
export interface TransferRow { id: string; name: string | null; startedAt: number }

/** What one snapshot replaces; a table left out keeps its rows. */
export interface Snapshot { peers?: PeerRow[]; contacts?: ContactRow[]; providers?: ProviderRow[]; keywords?: KeywordRow[] }

export class StateDb {
  /** Writes failing now (the node runs on its memory state until one works again). */
  private failing = false
  private closed = false

  private constructor(private db: SqlDatabase | null, private log: Logger, readonly driver: string) {}

  /** Opens (creating and migrating) <dir>/state.db. Never throws: without a working SQLite or
   * database it says why in one line and keeps nothing (`persistent` is false). */
  static open(dir: string, log: Logger, opts: { driver?: SqliteDriver | null } = {}): StateDb {
    const picked = opts.driver !== undefined ? { driver: opts.driver, why: 'no SQLite driver given' } : sqliteDriver()
    if (!picked.driver) {
      log.warn(`state is kept in memory only (no SQLite binding loads here: ${picked.why})`)
      return new StateDb(null, log, 'memory')
    }
    const path = join(dir, STATE_FILE)
    let db: SqlDatabase | null = null
    try {
      db = picked.driver.open(path)
      db.exec('PRAGMA busy_timeout = 2000')
      db.exec('PRAGMA journal_mode = WAL')
      db.exec('PRAGMA synchronous = NORMAL')
      migrate(db)
      return new StateDb(db, log, picked.driver.name)
    } catch (err) {
      try { db?.close() } catch { /* it was not open */ }
      log.warn(`state is kept in memory only (${path}: ${firstLine(err)})`)
      return new StateDb(null, log, 'memory')
    }
  }

  get persistent(): boolean { return this.db !== null }

  peers(): PeerRow[] {
    return this.rows('SELECT addr, public_key AS publicKey, rtt_ms AS rttMs, last_heard AS lastHeard, penalty, penalty_at AS penaltyAt, banned_until AS bannedUntil, origin FROM peers')
  }
  contacts(): ContactRow[] { return this.rows('SELECT addr, key, last_seen AS lastSeen FROM dht_contacts') }
  providers(): ProviderRow[] { return this.rows('SELECT id, addr, expires FROM dht_providers') }
  keywords(): KeywordRow[] { return this.rows('SELECT word, id, name, size, addr, expires FROM dht_keywords') }
  files(): FileRow[] { return this.rows('SELECT id, name, size, shared_at AS sharedAt FROM files') }
  transfers(): TransferRow[] { return this.rows('SELECT id, name, started_at AS startedAt FROM transfers ORDER BY started_at') }

  /** Replaces the given tables with these rows, all in one transaction. */
  snapshot(s: Snapshot): boolean {
    return this.write('snapshot', (db) => {
      if (s.peers) {
        db.exec('DELETE FROM peers')
        const ins = db.prepare('INSERT INTO peers VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        for (const p of s.peers) ins.run(p.addr, p.publicKey, p.rttMs, p.lastHeard, p.penalty, p.penaltyAt, p.bannedUntil, p.origin)
      }
      if (s.contacts) {
        db.exec('DELETE FROM dht_contacts')
        const ins = db.prepare('INSERT OR REPLACE INTO dht_contacts VALUES (?, ?, ?)')
        for (const c of s.contacts) ins.run(c.addr, c.key, c.lastSeen)
      }
      if (s.providers) {
        db.exec('DELETE FROM dht_providers')
        const ins = db.prepare('INSERT OR REPLACE INTO dht_providers VALUES (?, ?, ?)')
        for (const p of s.providers) ins.run(p.id, p.addr, p.expires)
      }
      if (s.keywords) {
        db.exec('DELETE FROM dht_keywords')
        const ins = db.prepare('INSERT OR REPLACE INTO dht_keywords VALUES (?, ?, ?, ?, ?, ?)')
        for (const k of s.keywords) ins.run(k.word, k.id, k.name, k.size, k.addr, k.expires)
      }
    })
  }

  putFile(f: FileRow): boolean {
    return this.write('file', (db) => { db.prepare('INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)').run(f.id, f.name, f.size, f.sharedAt) })
  }

  putTransfer(t: TransferRow): boolean {
    return this.write('transfer', (db) => { db.prepare('INSERT OR REPLACE INTO transfers VALUES (?, ?, ?)').run(t.id, t.name, t.startedAt) })
  }

  deleteTransfer(id: string): boolean {
    return this.write('transfer', (db) => { db.prepare('DELETE FROM transfers WHERE id = ?').run(id) })
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    try { this.db?.close() } catch (err) { this.log.warn(`closing ${STATE_FILE}: ${firstLine(err)}`) }
  }

  private rows<T>(sql: string, ...params: SqlValue[]): T[] {
    if (!this.db || this.closed) return []
    try {
      // node:sqlite gives null-prototype rows; plain objects keep both bindings alike.
      return this.db.prepare(sql).all(...params).map((r) => ({ ...(r as object) })) as T[]
    } catch (err) {
      this.log.warn(`reading ${STATE_FILE}: ${firstLine(err)}`)
      return []
    }
  }

  private write(what: string, fn: (db: SqlDatabase) => void): boolean {
    const db = this.db
    if (!db || this.closed) return false
    try {
      db.exec('BEGIN IMMEDIATE')
      try {
        fn(db)
        db.exec('COMMIT')
      } catch (err) {
        try { db.exec('ROLLBACK') } catch { /* SQLite rolled back already (a full disk does) */ }
        throw err
      }
      if (this.failing) this.log.info(`${STATE_FILE} writes work again`)
      this.failing = false
      return true
    } catch (err) {
      // One line per run of failures, not one per write: a full disk fails every write until freed.
      if (!this.failing) this.log.warn(`${STATE_FILE} ${what} not saved (${firstLine(err)}): running on memory state, the saved state stays as it was`)
      this.failing = true
      return false
    }
  }
}

function migrate(db: SqlDatabase): void {
  const version = Number((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version)
  if (version > MIGRATIONS.length) throw new Error(`made by a newer cjp2p-stream (schema ${version}, this one knows ${MIGRATIONS.length}): left untouched`)
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.exec('BEGIN IMMEDIATE')
    try {
      db.exec(MIGRATIONS[v])
      db.exec(`PRAGMA user_version = ${v + 1}`)
      db.exec('COMMIT')
    } catch (err) {
      try { db.exec('ROLLBACK') } catch { /* already rolled back */ }
      throw err
    }
  }
}
