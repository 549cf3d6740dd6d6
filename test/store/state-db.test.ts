// state.db: versioned migrations, snapshots that replace tables in one transaction, the memory-only
// fallback, and a full disk: the failed write logs one line, the saved state stays as it was, and
// writes resume (saying so) once there is room again. Runs on whichever SQLite binding loads here
// (better-sqlite3 on Node 20, node:sqlite on 22/24); without one it says so and skips.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdir, writeFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { MIGRATIONS, StateDb } from '../../src/store/state-db.ts'
import { sqliteDriver } from '../../src/store/sqlite-driver.ts'
import type { Logger } from '../../src/util/logger.ts'
import { defer, tempDir } from './helpers.ts'

function lines(): { log: Logger; warn: string[]; info: string[] } {
  const warn: string[] = []
  const info: string[] = []
  const log: Logger = { debug() {}, info: (m) => { info.push(m) }, warn: (m) => { warn.push(m) }, error: (m) => { warn.push(m) }, child: () => log }
  return { log, warn, info }
}

const peer = (i: number) => ({ addr: `127.0.0.1:${1000 + i}`, publicKey: 'ab'.repeat(32), rttMs: 3.5, lastHeard: 5, penalty: 12.5, penaltyAt: 6, bannedUntil: 7, origin: 'told' })
const driver = sqliteDriver()
const skip = driver.driver ? false : `no SQLite binding loads on Node ${process.versions.node}: ${driver.why}`

test('migrations, snapshots and rows survive reopening', { skip }, async (t) => {
  const dir = await tempDir(t)
  const { log, warn } = lines()
  const db = StateDb.open(dir, log)
  assert.ok(db.persistent, warn.join('\n'))
  assert.ok(db.snapshot({ peers: [peer(1), peer(2)], contacts: [{ addr: '127.0.0.1:9', key: 'cd'.repeat(32), lastSeen: 8 }] }))
  assert.ok(db.snapshot({ peers: [peer(3)] }), 'a second snapshot replaces only the tables it names')
  assert.ok(db.snapshot({ providers: [{ id: 'f'.repeat(64), addr: '127.0.0.1:7', expires: 9 }], keywords: [{ word: 'film', id: 'f'.repeat(64), name: 'a film.mp4', size: 3, addr: '127.0.0.1:7', expires: 9 }] }))
  assert.ok(db.putFile({ id: 'e'.repeat(64), name: 'x.bin', size: 10, sharedAt: 1 }))
  assert.ok(db.putTransfer({ id: 'd'.repeat(64), name: null, startedAt: 2 }))
  assert.ok(db.putTransfer({ id: 'c'.repeat(64), name: 'y', startedAt: 3 }))
  assert.ok(db.deleteTransfer('d'.repeat(64)))
  db.close()

  const again = StateDb.open(dir, log)
  t.after(() => again.close())
  assert.deepEqual(again.peers(), [peer(3)])
  assert.deepEqual(again.contacts(), [{ addr: '127.0.0.1:9', key: 'cd'.repeat(32), lastSeen: 8 }])
  assert.equal(again.providers().length, 1)
  assert.deepEqual(again.keywords(), [{ word: 'film', id: 'f'.repeat(64), name: 'a film.mp4', size: 3, addr: '127.0.0.1:7', expires: 9 }])
  assert.deepEqual(again.files(), [{ id: 'e'.repeat(64), name: 'x.bin', size: 10, sharedAt: 1 }])
  assert.deepEqual(again.transfers(), [{ id: 'c'.repeat(64), name: 'y', startedAt: 3 }])
  assert.deepEqual(warn, [])
})

test('a database from a newer version is left untouched; no binding means memory only, said once', { skip }, async (t) => {
  const dir = await tempDir(t)
  const raw = driver.driver!.open(join(dir, 'state.db'))
  raw.exec(`PRAGMA user_version = ${MIGRATIONS.length + 5}`)
  raw.close()
  const { log, warn } = lines()
  const db = StateDb.open(dir, log)
  assert.equal(db.persistent, false)
  assert.match(warn.join('\n'), /newer cjp2p-stream .*left untouched/)
  assert.equal(db.snapshot({ peers: [peer(1)] }), false)
  const check = driver.driver!.open(join(dir, 'state.db'))
  assert.equal((check.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, MIGRATIONS.length + 5)
  check.close()

  const m = lines()
  const mem = StateDb.open(dir, m.log, { driver: null })
  assert.equal(mem.persistent, false)
  assert.equal(m.warn.length, 1)
  assert.match(m.warn[0], /state is kept in memory only/)
  assert.deepEqual(mem.peers(), [])
})

test('a full disk: the failed write logs one line, the saved state stays, writes resume when there is room', { skip, timeout: 60_000 }, async (t) => {
  const base = await tempDir(t)
  const mnt = join(base, 'mnt')
  await mkdir(mnt)
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { stdio: 'ignore' }).status !== 0) return t.skip('cannot mount a tmpfs here (needs root)')
  defer(t, () => { spawnSync('umount', [mnt], { stdio: 'ignore' }) })
  const { log, warn, info } = lines()
  const db = StateDb.open(mnt, log)
  defer(t, () => db.close())
  assert.ok(db.persistent)
  const small = Array.from({ length: 10 }, (_, i) => peer(i))
  assert.ok(db.snapshot({ peers: small }))
  // Fill the disk, then ask for a snapshot far larger than what is left.
  let filler = 0
  for (;;) {
    try { await writeFile(join(mnt, `fill${filler++}`), Buffer.alloc(64 * 1024)) } catch { break }
  }
  const big = Array.from({ length: 20_000 }, (_, i) => ({ ...peer(i), addr: `127.0.0.1:${i}`, publicKey: String(i).padStart(64, '0') }))
  assert.equal(db.snapshot({ peers: big }), false, 'the write fails')
  assert.equal(db.snapshot({ peers: big }), false, 'and again')
  assert.equal(warn.length, 1, `one line for the run of failures: ${warn.join(' | ')}`)
  assert.match(warn[0], /state\.db snapshot not saved \(.*full.*\): running on memory state/)
  assert.deepEqual(db.peers(), small, 'the saved state is the last good snapshot')
  for (let i = 0; i < filler; i++) await rm(join(mnt, `fill${i}`), { force: true })
  assert.ok(db.snapshot({ peers: big.slice(0, 100) }), 'room again: the write works')
  assert.equal(db.peers().length, 100)
  assert.ok(info.some((l) => /writes work again/.test(l)))
})
