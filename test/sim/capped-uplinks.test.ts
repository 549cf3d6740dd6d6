// Every viewer on a home uplink that carries four copies of the stream (8 Mb/s up for a 2 Mb/s
// stream), started with --max-upload at that rate: the swarm has room for everyone, and the shipped
// nodes on virtual time must use it. Before session 25 it collapsed: a parent's catch-ups to the
// join wave queued its children's next pushes past their lateness limit, a viewer missing chunks
// read a slower stream and took more children than its cap carries, refused pulls were asked
// again ten times a second with the hints ahead of everyone's pushes, and a viewer that could
// carry five children called itself a leaf (50 viewers, seed 1: 3.07 source copies, 72.7 % worst
// completeness; here, 30 viewers, seed 1: 92.1 % worst after each one's first 5 s;
// docs/SCHEDULER.md, session 25).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { simulate, type SimOptions } from '../../src/sim/simulation.ts'
import { measure } from '../../scripts/simulate-report.ts'

const options: SimOptions = {
  viewers: 30, seconds: 20, bitrateBps: 2_000_000, link: { delayMs: 25, loss: 0 }, uploadCapacity: 4, uplinks: [], sourceCapacity: 0,
  joinSpreadMs: 5000, churnPerMin: 0, bootstrapViewers: 0, handover: true, seed: 1,
}

test('on virtual time: viewers whose uplinks carry four copies all play, on time once started, and the source uploads about a copy', async () => {
  for (const seed of [1, 2]) {
    const run = await simulate({ ...options, seed })
    assert.equal(run.orphanTimers, 0)
    // Each viewer's first 5 s (the join wave's start-up) are the flash crowd's own figure.
    const { figures: f } = measure(run, 5000)
    assert.equal(f.startupMs.neverPlayed, 0, `seed ${seed}: every viewer played`)
    assert.ok(f.completeness.worst >= 0.97, `seed ${seed}: worst completeness after the first 5 s ${(f.completeness.worst * 100).toFixed(2)} %`)
    assert.ok(f.sourceCopies <= 1.6, `seed ${seed}: the source uploaded ${f.sourceCopies.toFixed(3)} copies`)
  }
})
