// A relay forwards a chunk the moment its bytes match their signed record, from memory, not after
// its own disk write and a read back (issue #14: on a busy machine those two trips through the
// thread pool put the tail of the mesh's delay at hundreds of ms per relay).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { virtualSwarm } from '../helpers/virtual-swarm.ts'
import { ChunkPool, memoryStorage } from '../../src/store/memory-stream-files.ts'
import type { StreamStorage } from '../../src/store/stream-log-load.ts'
import type { Timers } from '../../src/util/timers.ts'

/** Memory storage whose every write takes `ms` of (virtual) time, a disk far slower than the
 * link, until `fast()` (then writes wait no more, so the swarm can close). */
function slowDisk(timers: Timers, ms: number): { storage: StreamStorage; fast: () => void } {
  const inner = memoryStorage(new ChunkPool())
  let slow = true
  const storage: StreamStorage = async (path, id, opts) => {
    const files = await inner(path, id, opts)
    const write = files.data.write.bind(files.data)
    files.data.write = (bytes, position, what) => !slow ? write(bytes, position, what) : new Promise((resolve, reject) => {
      timers.setTimeout(() => { write(bytes, position, what).then(resolve, reject) }, ms)
    })
    return files
  }
  return { storage, fast: () => { slow = false } }
}

test('a relay with a slow disk passes each chunk on to its child without waiting for its own write', async (t) => {
  const DISK_MS = 1500
  const sim = await virtualSwarm(t)
  await sim.runFor(3000)
  const disk = slowDisk(sim.timers, DISK_MS)
  const relay = await sim.join([sim.source.node.address], { storage: disk.storage })
  await sim.runFor(3000)
  const child = await sim.join([relay.node.address])
  await sim.runFor(30_000)
  const r = sim.swarm(relay).status()
  const c = sim.swarm(child).status()
  // The writes still pending finish before the swarm closes.
  disk.fast()
  await sim.runFor(DISK_MS * 2)
  t.diagnostic(`relay delay p50 ${r.delayMs.p50} ms; child delay p50 ${c.delayMs.p50} p95 ${c.delayMs.p95} ms; child hops ${JSON.stringify(c.hops)}; child fed by ${JSON.stringify(c.fedBy)}`)
  // The relay's own delay is counted once stored, so it carries the slow disk.
  assert.ok(r.delayMs.p50 >= DISK_MS, `the relay's disk is slow (p50 ${r.delayMs.p50} ms)`)
  // Its child is fed by it at two hops, within a small part of the relay's disk time.
  assert.ok(c.chunks.new > 100, `the child got ${c.chunks.new} chunks`)
  assert.ok((c.hops['2'] ?? 0) > c.chunks.new / 2, `most of the child's chunks came through the relay: ${JSON.stringify(c.hops)}`)
  assert.ok(c.delayMs.p50 < DISK_MS / 5, `the child's delay p50 ${c.delayMs.p50} ms is far under the relay's ${DISK_MS} ms disk`)
})
