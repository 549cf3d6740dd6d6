// The stripe trees on the simulated swarm (the shipped nodes on virtual time), over several seeds
// (any change that draws from the seeded generator moves a run, so no single seed proves much):
// - after a join wave, no stripe's tree stays cut off from the source. Before answers to pulls were
//   flagged as repairs, a node pushed down by the source re-parented into its own subtree and the
//   cycle lived on its members pulling from each other: at seed 1, stripe 0's tree held 1 of 100
//   viewers for over 30 s.
// - when the source's only child in a stripe leaves, its subtree is back under the source within
//   a couple of seconds, and the viewers miss nothing meanwhile. Before a relay told its children
//   that its own feed was late, every node below the departed one left its parent at once, and
//   the stripe took some 30 s to re-form.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EPOCH, VirtualSwarm, type SwarmMember } from '../../src/sim/virtual-swarm.ts'
import { DEADLINE_MS, LEAD_MS } from '../../src/sim/simulation.ts'
import { attachedCount } from '../../src/sim/stripe-trees.ts'
import { STRIPES } from '../../src/mesh/messages.ts'
import { stripeOf } from '../../src/mesh/stream-policy.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'

const SEEDS = [1, 2, 3]
const SAMPLE_MS = 250

/** A swarm with `viewers` joining evenly over `spreadMs` from LEAD_MS on; returns who is present. */
async function swarmOf(seed: number, viewers: number, spreadMs: number, loss: number): Promise<{ sim: VirtualSwarm; present: SwarmMember[]; t0: number }> {
  const sim = await VirtualSwarm.create({ seed, bitrateBps: 2_000_000, link: { delayMs: 25, loss }, verifyOncePerProcess: true, handover: true })
  const present: SwarmMember[] = []
  const t0 = EPOCH + LEAD_MS
  for (let k = 0; k < viewers; k++) sim.timers.queue.at(t0 + (spreadMs * k) / viewers, () => { void sim.join().then((m) => present.push(m)) })
  return { sim, present, t0 }
}

test('after a join wave of 100 viewers (1 % loss) no stripe tree stays cut off from the source for more than 3 s', async (t) => {
  for (const seed of SEEDS) {
    const { sim, present, t0 } = await swarmOf(seed, 100, 10_000, 0.01)
    try {
      // From 2 s after the last join to 20 s later: the longest stretch in which a stripe's tree
      // reached fewer than 80 % of the viewers.
      const longest = new Array<number>(STRIPES).fill(0)
      const since = new Array<number | undefined>(STRIPES).fill(undefined)
      const lowest = new Array<number>(STRIPES).fill(Infinity)
      for (let at = t0 + 12_000; at <= t0 + 32_000; at += SAMPLE_MS) {
        await sim.run(at)
        for (let s = 0; s < STRIPES; s++) {
          const share = attachedCount(sim, present, s) / present.length
          lowest[s] = Math.min(lowest[s], share)
          if (share >= 0.8) { since[s] = undefined; continue }
          const from = since[s] ??= at
          longest[s] = Math.max(longest[s], at - from + SAMPLE_MS)
        }
      }
      t.diagnostic(`seed ${seed}: longest stretch under 80 % per stripe ${longest.join(', ')} ms; lowest share ${lowest.map((x) => x.toFixed(2)).join(', ')}`)
      for (let s = 0; s < STRIPES; s++) assert.ok(longest[s] <= 3000, `seed ${seed}: stripe ${s}'s tree reached under 80 % of the viewers for ${longest[s]} ms`)
    } finally {
      await sim.close()
    }
  }
})

test('the source\'s only child in a stripe leaves: its subtree is back under the source within 2 s, only the orphans move, and nothing is missed', async (t) => {
  for (const seed of SEEDS) {
    const stripe = (seed + STRIPES - 1) % STRIPES
    const { sim, present, t0 } = await swarmOf(seed, 60, 6000, 0)
    try {
      const killAt = t0 + 15_000
      await sim.run(killAt)
      const child = sim.swarm(sim.source).status().children[stripe][0]
      const gone = present.find((m) => m.node.address === child)
      assert.ok(gone, `seed ${seed}: the source has a viewer as its child in stripe ${stripe}`)
      assert.ok(attachedCount(sim, present, stripe) >= 0.95 * present.length, `seed ${seed}: the tree was formed before the departure`)
      present.splice(present.indexOf(gone), 1)
      void sim.leave(gone)
      // Who changed parents in that stripe: the departed relay's own children must, nobody else
      // needs to (their parents are fed again as soon as the orphans are).
      const parentOf = (m: SwarmMember) => sim.swarm(m).status().parents[stripe]
      const before = new Map(present.map((m) => [m, parentOf(m)]))
      const orphans = present.filter((m) => before.get(m) === child).length
      const moved = new Set<SwarmMember>()
      let reformedAfter: number | undefined
      for (let at = killAt + SAMPLE_MS; at <= killAt + 8000; at += SAMPLE_MS) {
        await sim.run(at)
        if (reformedAfter === undefined && attachedCount(sim, present, stripe) >= 0.9 * present.length) reformedAfter = at - killAt
        for (const m of present) if (before.get(m) !== child && parentOf(m) !== before.get(m)) moved.add(m)
      }
      // Every chunk of that stripe published in the 3 s after the departure, at every viewer
      // present, verified within the bench's deadline: the source and the swarm filled the gap.
      const head = sim.source.log.head()!.chunks
      const chunks: number[] = []
      for (let n = 0; n < head; n++) {
        const time = sim.source.log.chunkRecord(n)?.time
        if (time !== undefined && time >= killAt && time < killAt + 3000 && stripeOf(n) === stripe) chunks.push(n)
      }
      let late = 0
      for (const m of present) {
        const at = new Map(m.recorder.verified)
        for (const n of chunks) if ((at.get(n) ?? Infinity) - sim.source.log.chunkRecord(n)!.time > DEADLINE_MS) late++
      }
      t.diagnostic(`seed ${seed}, stripe ${stripe}: 90 % back under the source after ${reformedAfter ?? 'more than 8000'} ms; ${orphans} orphans, ${moved.size} others changed parents; ${late} of ${chunks.length * present.length} chunk deliveries late (${chunks.length} chunks of ${CHUNK_SIZE} bytes)`)
      assert.ok(reformedAfter !== undefined && reformedAfter <= 2000, `seed ${seed}: stripe ${stripe} re-formed after ${reformedAfter ?? 'more than 8000'} ms`)
      assert.ok(moved.size <= 0.2 * present.length, `seed ${seed}: ${moved.size} of ${present.length} viewers changed parents besides the ${orphans} orphans`)
      assert.ok(chunks.length >= 5, `seed ${seed}: chunks published in the gap`)
      assert.ok(late <= 0.01 * chunks.length * present.length, `seed ${seed}: ${late} deliveries late`)
    } finally {
      await sim.close()
    }
  }
})
