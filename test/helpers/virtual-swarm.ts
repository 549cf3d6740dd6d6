// Whole swarms on virtual time for tests: the shipped nodes and swarms (src/sim/virtual-swarm.ts),
// minutes of stream in seconds of wall time, deterministic for a seed. Torn down with the test,
// and the teardown asserts that closing every node left no timer behind.
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { VirtualSwarm, type VirtualSwarmInit } from '../../src/sim/virtual-swarm.ts'
import type { SwarmMember } from '../../src/sim/virtual-swarm.ts'
import type { Transport } from '../../src/mesh/transport.ts'

export async function virtualSwarm(t: TestContext, init: Partial<VirtualSwarmInit> = {}): Promise<VirtualSwarm> {
  const sim = await VirtualSwarm.create({ seed: 1, bitrateBps: 2_000_000, link: { delayMs: 1, loss: 0 }, ...init })
  t.after(async () => {
    const left = await sim.close()
    assert.equal(left, 0, `${left} timers still set after every node closed`)
  })
  return sim
}

/** Chunks from the member's start point up to `upTo` that it does not hold. */
export function holes(sim: VirtualSwarm, m: SwarmMember, upTo: number): number[] {
  const start = sim.swarm(m).startChunk
  assert.ok(start >= 0, `viewer ${m.slot} never joined the stream`)
  return m.log.missingChunks(start, upTo)
}

/** Chunks published at least `ageMs` ago (by the source's records). */
export function publishedBefore(sim: VirtualSwarm, ageMs: number): number {
  const src = sim.source.log
  let n = src.head()?.chunks ?? 0
  while (n > 0 && (src.chunkRecord(n - 1)?.time ?? 0) > sim.timers.now() - ageMs) n--
  return n
}

/** Runs virtual time in small steps until `cond` holds; fails after `maxMs` of virtual time. */
export async function runUntil(sim: VirtualSwarm, cond: () => boolean, maxMs: number, what: string, stepMs = 50): Promise<void> {
  const deadline = sim.timers.now() + maxMs
  while (!cond()) {
    assert.ok(sim.timers.now() < deadline, `timed out after ${maxMs} virtual ms: ${what}`)
    await sim.runFor(stepMs)
  }
}

/** What hostile peers (scripts/hostile-peers.ts) need to run inside the virtual swarm. */
export function hostileIo(sim: VirtualSwarm): { transport: () => Promise<Transport>; timers: VirtualSwarm['timers'] } {
  return { transport: async () => sim.net.createTransport(), timers: sim.timers }
}
