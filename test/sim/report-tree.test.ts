// The tree the audience telemetry climbs, on the simulated swarm (the shipped nodes on virtual time,
// 1 % loss): each viewer reports up the stripe where it sits highest (StripeParents.reportStripe),
// so the reports form a tree of their own, shallower than any one stripe's, whose top the source's
// children in every stripe share. Until session 22 the telemetry climbed stripe 0 alone: 14-17
// levels deep at 1,000 viewers, every count through the source's one child there.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EPOCH, VirtualSwarm, type SwarmMember } from '../../src/sim/virtual-swarm.ts'
import { LEAD_MS } from '../../src/sim/simulation.ts'
import { reportingCount } from '../../src/sim/stripe-trees.ts'

const SEEDS = [1, 2, 3]

/** Depth of every viewer along `parentOf` (1: the source's child); undefined off the source's tree
 * (no parent, or a loop). */
function depths(members: SwarmMember[], source: string, parentOf: (m: SwarmMember) => string | null | undefined): Map<string, number | undefined> {
  const up = new Map(members.map((m) => [m.node.address, parentOf(m) ?? undefined]))
  const out = new Map<string, number | undefined>()
  for (const m of members) {
    let at: string | undefined = m.node.address
    let d = 0
    for (; at !== undefined && at !== source && d <= members.length; d++) at = up.get(at)
    out.set(m.node.address, at === source ? d : undefined)
  }
  return out
}

test('the telemetry climbs each viewer\'s highest stripe: a tree without loops, shallower than stripe 0\'s, its top shared by the source\'s children', async (t) => {
  for (const seed of SEEDS) {
    const sim = await VirtualSwarm.create({ seed, bitrateBps: 1_000_000, link: { delayMs: 25, loss: 0.01 }, verifyOncePerProcess: true, handover: true })
    try {
      const present: SwarmMember[] = []
      const t0 = EPOCH + LEAD_MS
      for (let k = 0; k < 100; k++) sim.timers.queue.at(t0 + 100 * k, () => { void sim.join().then((m) => present.push(m)) })
      const source = sim.source.node.address
      let loops = 0
      let reportDeepest = 0
      let stripe0Deepest = 0
      let topKids = Infinity
      let worstMiss = 0
      for (let at = t0 + 20_000; at <= t0 + 30_000; at += 500) {
        await sim.run(at)
        const report = depths(present, source, (m) => sim.swarm(m).status().pathToSource[0])
        const stripe0 = depths(present, source, (m) => sim.swarm(m).status().parents[0])
        // A viewer with a report parent whose chain never reaches the source sits in a loop (or
        // under a viewer between parents, which is not one).
        loops += present.filter((m) => report.get(m.node.address) === undefined && sim.swarm(m).status().pathToSource.length > 0 && isLoop(present, m, source, sim)).length
        reportDeepest = Math.max(reportDeepest, ...[...report.values()].map((d) => d ?? 0))
        stripe0Deepest = Math.max(stripe0Deepest, ...[...stripe0.values()].map((d) => d ?? 0))
        topKids = Math.min(topKids, sim.swarm(sim.source).audienceView().kids.length)
        worstMiss = Math.max(worstMiss, Math.abs(sim.swarm(sim.source).audienceView().viewers - reportingCount(sim, present)))
      }
      t.diagnostic(`seed ${seed}: deepest report ${reportDeepest}, stripe 0 ${stripe0Deepest}; fewest children reporting to the source ${topKids}; loops ${loops}; count off the reporting viewers by ${worstMiss} at most`)
      assert.equal(loops, 0, `seed ${seed}: viewers in report loops`)
      assert.ok(reportDeepest <= stripe0Deepest, `seed ${seed}: the report tree ${reportDeepest} deep, stripe 0's ${stripe0Deepest}`)
      // One child a stripe at the source: with the reports on stripe 0 alone it heard from one.
      assert.ok(topKids >= 2, `seed ${seed}: ${topKids} children reported to the source`)
      assert.ok(worstMiss <= 10, `seed ${seed}: the count was ${worstMiss} off the viewers whose reports reach the source`)
    } finally {
      await sim.close()
    }
  }
})

/** Whether `m`'s chain of report parents comes back to a viewer it passed (not merely a viewer
 * without a parent). */
function isLoop(members: SwarmMember[], m: SwarmMember, source: string, sim: VirtualSwarm): boolean {
  const byAddr = new Map(members.map((x) => [x.node.address, x]))
  const seen = new Set<string>()
  let at: string | undefined = m.node.address
  while (at !== undefined && at !== source) {
    if (seen.has(at)) return true
    seen.add(at)
    const x = byAddr.get(at)
    at = x === undefined ? undefined : sim.swarm(x).status().pathToSource[0]
  }
  return false
}
