// Issue 12's uneven uplinks on the simulated swarm (the shipped nodes on virtual time): 30 % of the
// viewers can upload half a copy, 10 % a twentieth (their own requests and subscriptions). The weak
// viewers are leaves by design; what this checks is that they are *placed*: each has a parent in
// every stripe nearly all the time, and never carries a child. Before children told their parents
// the places they had (PleaseKeepSendingMe.room/below), a leaf went from full node to full node
// (20-50 asks a join) and was pushed down by each interior newcomer, and a twentieth-copy viewer
// spent 10-20 s of a 30 s run without a parent in three stripes (docs/SCHEDULER.md, issue 12).
// Main: 68.75 and 18.50 of 100 stripe-seconds for the worst such viewer at seeds 1 and 2; 0.50 and
// 11.50 with the room told and our own control ahead of our answers.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EPOCH, VirtualSwarm, type SwarmMember } from '../../src/sim/virtual-swarm.ts'
import { LEAD_MS } from '../../src/sim/simulation.ts'
import { STRIPES } from '../../src/mesh/messages.ts'

const SEEDS = [1, 2]
/** The row has 200; at 60 every viewer found a parent quickly even before (the trees are
 * shallow, and the full nodes have room to spare). */
const VIEWERS = 200
const SAMPLE_MS = 250

interface Run { weak: SwarmMember[]; sim: VirtualSwarm; t0: number }

/** VIEWERS joining over 10 s from LEAD_MS on, every tenth at a twentieth of a copy, three in ten at half. */
async function unevenSwarm(seed: number): Promise<Run> {
  const sim = await VirtualSwarm.create({ seed, bitrateBps: 2_000_000, link: { delayMs: 25, loss: 0 }, verifyOncePerProcess: true, handover: true })
  const run: Run = { weak: [], sim, t0: EPOCH + LEAD_MS }
  for (let k = 0; k < VIEWERS; k++) {
    const copies = k % 10 === 3 ? 0.05 : k % 10 === 1 || k % 10 === 5 || k % 10 === 8 ? 0.5 : undefined
    sim.timers.queue.at(run.t0 + (10_000 * k) / VIEWERS, () => {
      void sim.join(undefined, copies === undefined ? {} : { uploadCapacity: copies }).then((m) => { if (copies === 0.05) run.weak.push(m) })
    })
  }
  return run
}

test('uneven uplinks: a twentieth-copy viewer has a parent in every stripe nearly all the time and never a child', async (t) => {
  for (const seed of SEEDS) {
    const { sim, weak, t0 } = await unevenSwarm(seed)
    try {
      // From 5 s after the last join to 25 s later: stripe-seconds each weak viewer spent with no
      // parent (its first 3 s after joining are its own join, not counted).
      const orphaned = new Map<SwarmMember, number>()
      let weakChildren = 0
      for (let at = t0 + 15_000; at <= t0 + 40_000; at += SAMPLE_MS) {
        await sim.run(at)
        for (const m of weak) {
          const st = sim.status(m)
          if (!st) continue
          weakChildren += st.children.flat().length
          const none = st.parents.filter((p) => p === null).length
          orphaned.set(m, (orphaned.get(m) ?? 0) + (none * SAMPLE_MS) / 1000)
        }
      }
      const worst = Math.max(...orphaned.values())
      const total = [...orphaned.values()].reduce((a, b) => a + b, 0)
      t.diagnostic(`seed ${seed}: ${weak.length} twentieth-copy viewers, stripe-s without a parent: worst ${worst.toFixed(2)}, all ${total.toFixed(2)} (of ${weak.length * STRIPES * 25}); children seen ${weakChildren}`)
      assert.equal(weakChildren, 0, `seed ${seed}: a twentieth-copy viewer carried children`)
      assert.ok(worst <= 15, `seed ${seed}: a twentieth-copy viewer spent ${worst.toFixed(2)} of 100 stripe-s without a parent`)
    } finally {
      await sim.close()
    }
  }
})
