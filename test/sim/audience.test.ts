// The audience telemetry on the simulated swarm (the shipped nodes on virtual time, 1 % loss):
// the source's count against who is present, after the join wave and after 20 % left at once; the
// merged delay p95 against the exact p95 of every chunk at every viewer; the telemetry's bytes
// against the stream's at every node. And a liar: it can distort only its own subtree, within the
// caps, and is flagged. A run is deterministic for its seed. `npm run simulate -- --audience
// --viewers 1000` prints the same figures at scale.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { audienceRun, type AudienceRunOptions } from '../../src/sim/audience-run.ts'
import { DELAY_BUCKETS_MS, MAX_FANOUT, WINDOW_MS } from '../../src/mesh/telemetry/audience-summary.ts'

// Seed 1 once left stripe 0's tree unformed 10 s after the join wave (1 of 100 viewers attached):
// a pushed-down relay was redirected into its own subtree and the stripe closed into a loop (see
// test/mesh/stripe-loops.test.ts), which lived on its members' pulls from each other
// (test/sim/stripe-trees.test.ts). Seed 1 again: since only a failed relay's own children leave it
// (IWillKeepSendingYou.late), 10 s after 20 % left it counts 80 of 80 (75 before). Seeds 2 and 3's
// exact p95 (275-300 ms) sits on the knee between the push delay and the repair tail, where the
// merged p95 missed it by 38-70 % while each node merged its children's 30 s windows as they came
// (of different ages, the deepest some 40 s late); the delays now go up by epoch of publish time,
// and the source reads whole epochs that the tree has finished reporting, which the exact p95 is
// read over too.
const base: AudienceRunOptions = {
  viewers: 100, seed: 1, bitrateBps: 2_000_000, link: { delayMs: 25, loss: 0.01 },
  joinSpreadMs: 10_000, settleMs: 10_000, steadyMs: 40_000, leaveShare: 0.2,
}

for (const seed of [1, 2, 3]) {
  test(`seed ${seed}: the source counts its audience 3+ levels deep, follows 20 % leaving, merges the delay p95 within 10 %, and the telemetry costs under 1 %`, async (t) => {
    const r = await audienceRun({ ...base, seed })
    t.diagnostic(JSON.stringify({ joined: r.joined, afterLeave: r.afterLeave, p95: r.p95, delayWindow: r.view.delayWindow, cost: r.cost, byDepth: r.view.byDepth }))
    // The tree the counts climb is at least three levels below the source (ten or so, here).
    assert.ok(r.view.byDepth.filter((n) => n > 0).length >= 3, `depths ${JSON.stringify(r.view.byDepth)}`)
    // The goal is 1 % (reported by `npm run simulate -- --audience`: 100/100 and 80/80 at
    // these seeds). The bound here is the behaviour: the count climbs to the audience and follows
    // it down. Against the viewers whose stripe-0 chain reaches the source (the tree it travels
    // up), it is exact or close whatever the tree's state.
    for (const [when, c] of [['join', r.joined], ['leave', r.afterLeave]] as const) {
      assert.ok(Math.abs(c.counted - c.attached) <= 0.05 * c.present, `after the ${when}: counted ${c.counted}, attached ${c.attached}`)
    }
    assert.ok(r.joined.error <= 0.1, `10 s after the last join: ${r.joined.counted} of ${r.joined.present}`)
    assert.ok(r.afterLeave.error <= 0.1, `10 s after 20 % left: ${r.afterLeave.counted} of ${r.afterLeave.present}`)
    // The goal itself (2.8 %, 2.8 % and 7.3 % at seeds 1-3; 30-70 % at seeds 2 and 3 with the
    // windows merged as they came): the merged histogram holds the same chunks' delays
    // as the exact one, short of summaries lost on the way up and 10 %-wide buckets.
    assert.ok(r.p95.error <= 0.1, `merged p95 ${r.p95.mergedMs} ms, exact ${r.p95.trueMs} ms`)
    // The window covers whole epochs of the last minute, WINDOW_MS of them.
    const w = r.view.delayWindow
    assert.ok(w && w.to - w.from === WINDOW_MS, `delay window ${JSON.stringify(w)}`)
    // The goal is 1 % at every node (0.80-0.92 % at the worst node at seeds 1-3, 0.16 % overall); the
    // counts go past the byte budget, so nothing enforces it at every node: the bound here is a
    // regression guard.
    assert.ok(r.cost.overall <= 0.01, `telemetry is ${(r.cost.overall * 100).toFixed(2)} % of all stream bytes`)
    assert.ok(r.cost.worstNode <= 0.015, `telemetry is ${(r.cost.worstNode * 100).toFixed(2)} % of the stream at the worst node`)
    // No liar here: a suspect viewer is a false alarm (a count-only update applied over an older
    // full summary once left a subtree's versions above its viewers, and the cap one level up fired).
    assert.equal(r.view.suspect, 0, `${r.view.suspect} honest viewers flagged suspect`)
  })
}

// The liar runs as long as the honest run: every node's window reaches back some 37 s (30 s and
// the climb), and a shorter run would compare the join wave's delays in the merged histogram with
// an exact window that no longer holds them.
test('a liar claiming a million viewers and absurd delays moves only its own subtree, within the caps, and is flagged', async (t) => {
  const r = await audienceRun({
    ...base, viewers: 60, leaveShare: 0,
    liars: { count: 1, lie: (a) => ({ ...a, viewers: 1_000_000, byDepth: [1, 999_999], delay: [[DELAY_BUCKETS_MS.length - 1, 1e9]], late: 1e9, up: 1e15 }) },
  })
  t.diagnostic(JSON.stringify({ joined: r.joined, afterLeave: r.afterLeave, p95: r.p95, suspect: r.view.suspect, liars: r.liars, liarSubtrees: r.liarSubtrees }))
  // The liar's subtree (itself and whoever it feeds in stripe 0) becomes what the caps allow of its
  // claim, at most itself and MAX_FANOUT children; everyone else is counted as they are.
  const honest = r.afterLeave.present - r.liarSubtrees
  assert.ok(r.afterLeave.counted >= honest, `honest viewers outside the liar's subtree lost: ${r.afterLeave.counted} counted, ${honest} outside it`)
  assert.ok(r.afterLeave.counted <= honest + 1 + MAX_FANOUT, `the liar inflated the count to ${r.afterLeave.counted} (${honest} outside its subtree)`)
  assert.ok(r.view.suspect >= 1, `suspect ${r.view.suspect}`)
  // Its 60 s delays weigh as one viewer's chunks: with 60 viewers the merged p95 stays below the
  // honest p99.
  assert.ok(r.p95.mergedMs <= 1.1 * r.p95.trueP99Ms, `merged p95 ${r.p95.mergedMs} ms, honest p99 ${r.p95.trueP99Ms} ms`)
})

// The reading main got wrong: 300 viewers, 10 s after the count's reading (20 s after the last
// join). The source counted the chunks published in each epoch from a cursor that began at -1, a
// chunk no one has, so for the stream's first 33 s it knew of none, and its delay window ended at
// the newest epoch, a fifth reported: only its shallow viewers' low delays, against the join
// wave's high ones in the epochs before. Main read 4277 ms against 3067 ms exact at seed 2
// (39 %), 3771 against 3087 ms at seed 1 (22 %).
test('300 viewers, 20 s after the joins: the merged delay p95 within 10 % of the exact one over the same chunks', async (t) => {
  const r = await audienceRun({ ...base, viewers: 300, seed: 2, steadyMs: 10_000, leaveShare: 0 })
  t.diagnostic(JSON.stringify({ joined: r.joined, p95: r.p95, delayWindow: r.view.delayWindow, cost: r.cost }))
  assert.ok(r.p95.error <= 0.1, `merged p95 ${r.p95.mergedMs} ms, exact ${r.p95.trueMs} ms`)
  // The window is whole epochs that had all been published, and it ends before the newest.
  const w = r.view.delayWindow
  assert.ok(w && w.to - w.from === WINDOW_MS && w.endedMsAgo >= 0, `delay window ${JSON.stringify(w)}`)
})
