// The iterative lookup on its own, against scripted answers: it converges on the nearest nodes,
// keeps at most `concurrency` questions in flight, steps past dead nodes, and a liar who keeps
// naming new nodes cannot keep it going.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { lookup, MAX_LOOKUP_QUERIES } from '../../../src/mesh/dht/lookup.ts'
import type { Answer, Candidate } from '../../../src/mesh/dht/lookup.ts'
import { closer } from '../../../src/mesh/dht/node-id.ts'
import { seededRandom } from '../../../src/util/timers.ts'

const tick = () => new Promise<void>((r) => setImmediate(r))

test('converges on the true nearest nodes with at most `concurrency` in flight, past dead ones', async () => {
  const random = seededRandom(11)
  const bytes = () => Buffer.from(Array.from({ length: 32 }, () => Math.floor(random() * 256)))
  const nodes: Candidate[] = Array.from({ length: 300 }, (_, i) => ({ addr: `10.0.${i >> 8}.${i & 255}:1`, id: bytes() }))
  const dead = new Set(nodes.filter((_, i) => i % 3 === 0).map((n) => n.addr))
  const target = bytes()
  const nearestTo = (id: Uint8Array, n: number) => [...nodes].sort((a, b) => closer(id, a.id!, b.id!)).slice(0, n)
  let inFlight = 0
  let most = 0
  const ask = async (c: Candidate): Promise<Answer | null> => {
    inFlight++; most = Math.max(most, inFlight)
    await tick()
    inFlight--
    if (dead.has(c.addr)) return null
    // Each node knows the 8 nodes nearest the target among a random third of the network, and its own neighbours.
    const known = nodes.filter(() => random() < 0.33)
    return { nodes: [...[...known].sort((a, b) => closer(target, a.id!, b.id!)).slice(0, 8), ...nearestTo(c.id!, 4)], providers: [], id: c.id }
  }
  const r = await lookup(target, nodes.slice(0, 8), ask, { width: 8, concurrency: 3 })
  assert.ok(most <= 3, `at most 3 in flight (${most})`)
  const alive = nodes.filter((n) => !dead.has(n.addr)).sort((a, b) => closer(target, a.id!, b.id!))
  assert.deepEqual(r.closest.slice(0, 3).map((c) => c.addr), alive.slice(0, 3).map((c) => c.addr), 'the nearest live nodes are found')
  assert.ok(r.failures > 0 && r.queries <= MAX_LOOKUP_QUERIES)
})

test('a liar naming ever-nearer invented nodes costs at most MAX_LOOKUP_QUERIES questions', async () => {
  const target = Buffer.alloc(32)
  let made = 0
  const invent = (): Candidate => {
    made++
    const id = Buffer.alloc(32, 0xff)
    id.writeUInt32BE(0xffffffff - made, 0) // each nearer the target than the last
    return { addr: `10.9.${(made >> 8) & 255}.${made & 255}:1`, id }
  }
  const ask = async (): Promise<Answer | null> => { await tick(); return { nodes: Array.from({ length: 16 }, invent), providers: [], id: null } }
  const r = await lookup(target, [invent()], ask, { width: 8, concurrency: 3 })
  assert.ok(r.queries <= MAX_LOOKUP_QUERIES, `${r.queries} questions`)
})

test('stops as soon as enough providers are known', async () => {
  const seeds: Candidate[] = Array.from({ length: 8 }, (_, i) => ({ addr: `10.1.0.${i}:1`, id: randomBytes(32) }))
  let asked = 0
  const r = await lookup(randomBytes(32), seeds, async () => { asked++; await tick(); return { nodes: [], providers: ['10.2.0.1:1'], id: null } }, { width: 8, concurrency: 3, wantProviders: 1 })
  assert.deepEqual(r.providers, ['10.2.0.1:1'])
  assert.ok(asked <= 3, `no question after the first provider (${asked})`)
})
