// Keeps a runtime's state in <dir>/state.db (src/store/state-db.ts) and brings it back at start:
// the peer table (keys, scores, bans), the DHT's contacts and the announcements others made to us,
// shared-file names and sizes, and the transfers in progress. Snapshots run every SNAPSHOT_MS and at
// close, and rewrite only the tables that changed since the last one (an idle node writes nothing);
// files and transfers are written as they change. A kill -9 loses at most the last interval
// of peer and DHT changes, never a transfer's verified blocks (those are in incoming/ already).
import { createHash } from 'node:crypto'
import type { CjNode } from './mesh/node.ts'
import { isAddress } from './mesh/messages.ts'
import type { Dht } from './mesh/dht/dht.ts'
import type { NameIndex } from './mesh/dht/name-index.ts'
import type { FileStore } from './store/file-store.ts'
import type { Snapshot, StateDb } from './store/state-db.ts'
import type { Logger } from './util/logger.ts'
import type { Timer } from './util/timers.ts'

/** Peers and the DHT's tables are written this often (and at a clean stop). */
export const SNAPSHOT_MS = 15_000
/** Announcements kept across a restart, freshest first: they are others' refreshable claims, so a
 * cap bounds the snapshot's cost (a full keyword store is ~500k rows) at no loss that matters. */
const MAX_SAVED_ANNOUNCEMENTS = 20_000

export interface StateKeeperComponents { db: StateDb; node: CjNode; dht: Dht; names: NameIndex; files: FileStore; logger: Logger }

export class StateKeeper {
  private timer?: Timer
  private closed = false
  /** A digest of each table as last written: a table that did not change is not rewritten. */
  private written = new Map<keyof Snapshot, string>()
  /** Shared files as state.db holds them (name and size): every start-up announces each shared
   * file again, and one already recorded alike is not written again. */
  private sharedRows = new Map<string, string>()

  /** `save: false`: a short-lived command (get, list, search) on a folder a node may own: it reads
   * the saved state but never replaces the node's tables with its own small ones. */
  constructor(private c: StateKeeperComponents, private init: { save?: boolean } = {}) {}

  /** Puts the saved state back into the node's tables; says what came back in one line. */
  restore(): void {
    const { db, node, dht, names, files } = this.c
    if (!db.persistent) return
    const now = node.timers.now()
    const peers = node.peers.restore(db.peers(), isAddress)
    let contacts = 0
    for (const ct of db.contacts()) if (dht.table.add(ct.key, ct.addr)) contacts++
    let announcements = 0
    for (const p of db.providers()) if (p.expires > now && dht.providers.add(p.id, p.addr, p.expires) === 'stored') announcements++
    for (const k of db.keywords()) if (k.expires > now && names.keywords.add(k.word, k, k.addr, k.expires) === 'stored') announcements++
    for (const f of db.files()) {
      this.sharedRows.set(f.id, fileKey(f.name, f.size))
      if (f.name && !files.names.get(f.id)) files.names.set(f.id, f.name)
    }
    const transfers = db.transfers().length
    if (peers + contacts + announcements + transfers > 0) {
      this.c.logger.info(`state.db: ${peers} peer(s), ${contacts} DHT contact(s), ${announcements} announcement(s), ${transfers} transfer(s) in progress restored`)
    }
  }

  start(): void {
    if (this.timer || this.closed || !this.c.db.persistent || this.init.save === false) return
    this.timer = this.c.node.timers.setInterval(() => this.save(), SNAPSHOT_MS)
  }

  /** One snapshot of the peer and DHT tables that changed since the last; false if the write failed. */
  save(): boolean {
    const { db, node, dht, names } = this.c
    const now = node.timers.now()
    const freshest = <T extends { expires: number }>(rows: Iterable<T>) => [...rows].filter((r) => r.expires > now)
      .sort((a, b) => b.expires - a.expires).slice(0, MAX_SAVED_ANNOUNCEMENTS)
    const tables: Required<Snapshot> = {
      peers: node.peers.persisted(),
      contacts: dht.table.all().map((ct) => ({ addr: ct.addr, key: ct.key, lastSeen: ct.vectorClock })),
      providers: freshest(dht.providers.entries()),
      keywords: freshest(names.keywords.entries()),
    }
    const changed: Snapshot = {}
    const digests = new Map<keyof Snapshot, string>()
    for (const [name, rows] of Object.entries(tables) as Array<[keyof Snapshot, unknown[]]>) {
      const digest = createHash('sha256').update(JSON.stringify(rows)).digest('base64')
      if (this.written.get(name) === digest) continue
      digests.set(name, digest)
      Object.assign(changed, { [name]: rows })
    }
    if (digests.size === 0) return true
    const ok = db.snapshot(changed)
    if (ok) for (const [name, digest] of digests) this.written.set(name, digest)
    return ok
  }

  /** A file is shared here under this name and size. */
  shared(id: string, name: string | undefined, size: number): void {
    const key = fileKey(name ?? null, size)
    if (this.sharedRows.get(id) === key) return
    if (this.c.db.putFile({ id, name: name ?? null, size, sharedAt: this.c.node.timers.now() })) this.sharedRows.set(id, key)
  }

  /** The journal FileFetches keeps its transfers in. */
  get journal(): { started(id: string, name: string | undefined, at: number): void; ended(id: string): void } {
    return {
      started: (id, name, at) => { this.c.db.putTransfer({ id, name: name ?? null, startedAt: at }) },
      ended: (id) => { this.c.db.deleteTransfer(id) },
    }
  }

  /** Transfers that were in progress when the node last stopped (or was killed). */
  transfers(): Array<{ id: string; name: string | null }> { return this.c.db.transfers() }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.c.node.timers.clear(this.timer)
    if (this.c.db.persistent && this.init.save !== false) this.save()
  }
}

function fileKey(name: string | null, size: number): string {
  return `${size} ${name ?? ''}`
}
