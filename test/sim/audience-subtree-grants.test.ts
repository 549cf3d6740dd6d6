// The source's count after a join wave whose tree re-formed late, on the simulated swarm (the
// shipped nodes on virtual time, 1 % loss). At seed 2 of `npm run simulate -- --audience --viewers
// 200 --bitrate 1M` the stripe-0 tree re-formed 2.5 s before the reading, and the counts had some 9
// levels to climb. Each parent split its children's telemetry budget evenly, so a relay with 118
// viewers below it had the 126 B/s of its leaf siblings: its counts waited 1.4 s for their bytes at
// each hop, and the source counted 187 of 200. Split by the viewers each child carries
// (AudienceGrants.shares), the relays' counts climb without waiting.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { audienceRun } from '../../src/sim/audience-run.ts'

test('seed 2, 200 viewers at 1 Mb/s: 10 s after the joins the source counts them within 1 %', async (t) => {
  const r = await audienceRun({
    viewers: 200, seed: 2, bitrateBps: 1_000_000, link: { delayMs: 25, loss: 0.01 },
    joinSpreadMs: 10_000, settleMs: 10_000, steadyMs: 0, leaveShare: 0.2, departure: 'both',
  })
  t.diagnostic(JSON.stringify({ joined: r.joined, afterLeave: r.afterLeave }))
  // The tree was whole at the reading (200 attached): what was missing was the counts' climb.
  assert.ok(r.joined.attached >= 198, `${r.joined.attached} of 200 attached`)
  assert.ok(r.joined.error <= 0.01, `10 s after the last join: ${r.joined.counted} of ${r.joined.present}`)
  assert.ok(r.afterLeave.error <= 0.05, `10 s after 20 % left: ${r.afterLeave.counted} of ${r.afterLeave.present}`)
})
