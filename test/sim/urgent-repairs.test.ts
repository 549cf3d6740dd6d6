// An urgent chunk that six holders failed to deliver goes to the source, but not for good: while
// the source does not answer, the next try goes on round the holders. Pinned to the source, a hole
// stayed a hole once the source left or went quiet, and holders that got the chunk meanwhile were
// never asked again. The rule is checked exactly below; the swarm run is a guard that a source
// answering no pull leaves no hole in time (on today's main the pinned rule passes it too: 0 late
// at seeds 1-3, its "asked again" cost 0.022-0.060 copies against 0.042-0.095 here, so that cost
// is reported, not bounded). Alternating source and holders on every retry cut that cost to
// 0.009-0.016 copies but slowed the source's rescue when holders lie (test/mesh/hostile-swarm.test.ts).
// On virtual time, over several seeds (any change drawing from the seeded generator moves a run).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EPOCH, VirtualSwarm, type SwarmMember } from '../../src/sim/virtual-swarm.ts'
import { DEADLINE_MS, LEAD_MS } from '../../src/sim/simulation.ts'
import type { Message } from '../../src/mesh/messages.ts'
import { TRIES_BEFORE_SOURCE, URGENT_MS, planRepairs } from '../../src/mesh/stream-policy.ts'

test('past TRIES_BEFORE_SOURCE an urgent chunk goes to the source, and on round the holders while the source does not answer', () => {
  const now = 100_000
  const ask = (tries: number, peer: string, refused = false) => planRepairs({
    now, missing: [{ n: 7, deadline: now + URGENT_MS / 2, knownSince: now - 10_000 }],
    inFlight: new Map([[7, { peer, at: now - 10_000, tries, ...(refused ? { retryAt: now } : {}) }]]),
    holders: () => ['A', 'B'], source: 'S', sourceBudgetChunks: 0, rttMs: () => 50,
  })[0]?.peer
  assert.notEqual(ask(TRIES_BEFORE_SOURCE - 1, 'A'), 'S', 'holders first')
  assert.equal(ask(TRIES_BEFORE_SOURCE, 'A'), 'S', 'then the source')
  assert.equal(ask(TRIES_BEFORE_SOURCE + 1, 'S', true), 'S', 'a source that said "ask them" is asked again (its asked-five-times rule)')
  const afterSilence = ask(TRIES_BEFORE_SOURCE + 1, 'S')
  assert.ok(afterSilence === 'A' || afterSilence === 'B', `a source that did not answer: a holder next (asked ${afterSilence})`)
  assert.equal(ask(TRIES_BEFORE_SOURCE + 2, afterSilence), 'S', 'and the source again after it')
})

/** Late deliveries tolerated per seed out of about 15,000 (see the assertion). */
const MAX_LATE = 2

/** The scenario: 40 viewers joining over 5 s at 25 ms one-way and 3 % loss, under a source that
 * pushes (the stream flows) but answers pulls with neither data nor hints, as a source that left
 * or whose replies are lost. What it would have served is still counted by cause. A chunk lost on
 * its way to a stripe's top relay is then a hole nobody can repair. `sample` runs every 250 ms of
 * virtual time from 8 s on. */
async function silentSourceRun(seed: number, sample: (present: SwarmMember[], sim: VirtualSwarm) => void = () => {}): Promise<{ sim: VirtualSwarm; present: SwarmMember[]; t0: number }> {
  const sim = await VirtualSwarm.create({ seed, bitrateBps: 2_000_000, link: { delayMs: 25, loss: 0.03 }, verifyOncePerProcess: true, handover: true })
  const send = sim.source.node.send.bind(sim.source.node)
  sim.source.node.send = (to, msgs, ...rest) => {
    const kept = msgs.filter((m: Message) => m.type !== 'MaybeTheyHaveSome' && !(m.type === 'Content' && m.repaired))
    return kept.length ? send(to, kept, ...rest) : 0
  }
  const present: SwarmMember[] = []
  const t0 = EPOCH + LEAD_MS
  for (let k = 0; k < 40; k++) sim.timers.queue.at(t0 + (5000 * k) / 40, () => { void sim.join().then((m) => present.push(m)) })
  for (let t = 8000; t <= 40_000; t += 250) {
    await sim.run(t0 + t)
    sample(present, sim)
  }
  return { sim, present, t0 }
}

test('a source that answers no pull: holes are filled by holders in time (40 viewers, 3 % loss)', async (t) => {
  for (const seed of [1, 2, 3]) {
    const { sim, present, t0 } = await silentSourceRun(seed)
    try {
      const log = sim.source.log
      let late = 0
      let total = 0
      for (const m of present) {
        const at = new Map(m.recorder.verified)
        for (let n = 0; n < log.head()!.chunks; n++) {
          const time = log.chunkRecord(n)!.time
          if (time < t0 + 10_000 || time >= t0 + 35_000) continue
          total++
          if ((at.get(n) ?? Infinity) - time > DEADLINE_MS) late++
        }
      }
      const st = sim.swarm(sim.source).status()
      const askedAgain = ((st.uploadedBy['pull-asked-again'] ?? 0) + (st.uploadedBy['pull-startup'] ?? 0)) / st.producedBytes
      t.diagnostic(`seed ${seed}: ${late} of ${total} deliveries late; the source's "asked again" rule came to ${askedAgain.toFixed(4)} copies`)
      // A hole nobody fills is late at every viewer below it (ten and more per chunk); one or two
      // late deliveries are a single viewer's lost datagram near its deadline, which any change
      // in what travels (message sizes, timings) moves from seed to seed.
      assert.ok(late <= MAX_LATE, `seed ${seed}: ${late} deliveries late (at most ${MAX_LATE})`)
    } finally {
      await sim.close()
    }
  }
})

// Issue 12: a relay late with one chunk because that chunk never reached the top of its stripe
// (and one more datagram lost on its own link) was judged like a squatter, complained off its
// place, and its whole subtree re-formed at once. On main before the change these seeds had a
// stripe with 10 or more of the 40 viewers unparented for 6-15 s (seeds 3, 6, 7, 12), 446-598
// viewer-stripe-seconds without a parent; after, none and 0-2 (stream-policy.ts, lateParentFails).
test('a hole at the top of a stripe does not orphan the stripe: relays late by one lost chunk keep their place', async (t) => {
  for (const seed of [3, 6, 7, 12]) {
    let orphanSeconds = 0
    let run = [0, 0, 0, 0]
    let longest = 0
    const { sim } = await silentSourceRun(seed, (present, sim) => {
      run = run.map((ms, s) => {
        const without = present.filter((m) => sim.swarm(m).status().parents[s] === null).length
        orphanSeconds += without / 4
        return without >= 10 ? ms + 250 : 0
      })
      longest = Math.max(longest, ...run)
    })
    try {
      t.diagnostic(`seed ${seed}: ${orphanSeconds} viewer-stripe-seconds without a parent; longest stretch with 10 or more viewers unparented in one stripe ${longest} ms`)
      assert.ok(longest < 2000, `seed ${seed}: a stripe had 10 or more viewers without a parent for ${longest} ms`)
      assert.ok(orphanSeconds < 100, `seed ${seed}: ${orphanSeconds} viewer-stripe-seconds without a parent`)
    } finally {
      await sim.close()
    }
  }
})
