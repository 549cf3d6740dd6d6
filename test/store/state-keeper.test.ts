// The state keeper's snapshots rewrite only the tables that changed: an idle node writes nothing
// every SNAPSHOT_MS, a busy one rewrites what moved. The collaborators are the keeper's injected
// components, reduced to what a snapshot reads; the database records what it was asked to write.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { StateKeeper, type StateKeeperComponents } from '../../src/state-keeper.ts'
import type { Snapshot } from '../../src/store/state-db.ts'
import { silentLogger } from '../../src/util/logger.ts'

test('a snapshot rewrites only the tables that changed since the last one, and retries a failed write', () => {
  const writes: Array<Array<keyof Snapshot>> = []
  let failNext = false
  const peers = [{ addr: '127.0.0.1:1', publicKey: null, rttMs: 5, lastHeard: 1, penalty: 0, penaltyAt: 0, bannedUntil: 0, origin: 'told' }]
  const providers: Array<{ id: string; addr: string; expires: number }> = []
  const components = {
    db: { persistent: true, snapshot: (s: Snapshot) => { if (failNext) { failNext = false; return false } writes.push(Object.keys(s) as Array<keyof Snapshot>); return true } },
    node: { timers: { now: () => 1000 }, peers: { persisted: () => peers } },
    dht: { table: { all: () => [] }, providers: { entries: () => providers } },
    names: { keywords: { entries: () => [] } },
    files: {}, logger: silentLogger,
  } as unknown as StateKeeperComponents
  const keeper = new StateKeeper(components)

  assert.equal(keeper.save(), true)
  assert.deepEqual(writes.pop()?.sort(), ['contacts', 'keywords', 'peers', 'providers'])
  assert.equal(keeper.save(), true)
  assert.equal(writes.length, 0, 'nothing changed: nothing written')

  providers.push({ id: 'a'.repeat(64), addr: '127.0.0.1:2', expires: 5000 })
  assert.equal(keeper.save(), true)
  assert.deepEqual(writes.pop(), ['providers'])

  // A write that failed (a full disk) is tried again at the next snapshot.
  peers[0].lastHeard = 2
  failNext = true
  assert.equal(keeper.save(), false)
  assert.equal(keeper.save(), true)
  assert.deepEqual(writes.pop(), ['peers'])
  assert.equal(writes.length, 0)
})

test('a shared file already recorded alike is not written again (every start-up announces each one)', () => {
  const puts: string[] = []
  const components = {
    db: { persistent: true, files: () => [{ id: 'a', name: 'a.mp4', size: 10, sharedAt: 1 }], peers: () => [], contacts: () => [], providers: () => [], keywords: () => [], transfers: () => [], putFile: (f: { id: string }) => { puts.push(f.id); return true } },
    node: { timers: { now: () => 1000 }, peers: { restore: () => 0 } },
    dht: { table: { add: () => false }, providers: { add: () => 'stored' } },
    names: { keywords: { add: () => 'stored' } },
    files: { names: { get: () => undefined, set: () => {} } }, logger: silentLogger,
  } as unknown as StateKeeperComponents
  const keeper = new StateKeeper(components)
  keeper.restore()
  keeper.shared('a', 'a.mp4', 10)
  assert.deepEqual(puts, [], 'recorded alike: not written')
  keeper.shared('a', 'a.mp4', 11)
  keeper.shared('b', undefined, 5)
  keeper.shared('b', undefined, 5)
  assert.deepEqual(puts, ['a', 'b'])
})
