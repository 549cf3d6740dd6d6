// Joins on slow paths, in virtual time: round trips of 700 ms between every pair, as processes on
// a loaded machine see each other (the NAT lab measured 300-650 ms at load 33). A join that gives
// each candidate a fixed 500 ms to answer moves on before any yes can arrive, declines every late
// one, and its viewer lives on pulls; with the allowance following the round trip
// (stream-policy.ts joinAnswerMs) the viewers take relays as parents and the stream reaches them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { holes, publishedBefore, virtualSwarm } from '../helpers/virtual-swarm.ts'
import { JOIN_ANSWER_MAX_MS, JOIN_ANSWER_MS, joinAnswerMs } from '../../src/mesh/stream-policy.ts'
import { STRIPES } from '../../src/mesh/messages.ts'

test('the answer allowance follows the round trip, between a floor and a ceiling', () => {
  assert.equal(joinAnswerMs(undefined), JOIN_ANSWER_MS)
  assert.equal(joinAnswerMs(20), JOIN_ANSWER_MS)
  assert.equal(joinAnswerMs(650), 1300)
  assert.equal(joinAnswerMs(10_000), JOIN_ANSWER_MAX_MS)
})

test('12 viewers on 700 ms round trips: relays feed them and nobody is left with holes', async (t) => {
  const sim = await virtualSwarm(t, { seed: 3, bitrateBps: 1_000_000, link: { delayMs: 350, loss: 0 } })
  await sim.runFor(3000)
  const viewers = []
  for (let i = 0; i < 12; i++) { viewers.push(await sim.join()); await sim.runFor(200) }
  await sim.runFor(30_000)
  const src = sim.source.node.address
  let relayStripes = 0
  for (const v of viewers) {
    const parents = sim.swarm(v).status().parents
    t.diagnostic(`viewer ${v.slot}: parents ${parents.map((p) => (p === null ? '-' : p === src ? 'source' : p)).join(' ')}`)
    relayStripes += parents.filter((p) => p !== null && p !== src).length
  }
  // The source takes one child per stripe: every other stripe of every viewer is a relay's.
  assert.ok(relayStripes >= (viewers.length - 2) * STRIPES, `stripes fed by a relay: ${relayStripes} of ${viewers.length * STRIPES}`)
  // Chunks published 8 s before the end had time to arrive, pushed or pulled.
  const upTo = publishedBefore(sim, 8000)
  for (const v of viewers) assert.deepEqual(holes(sim, v, upTo), [], `viewer ${v.slot} holds every chunk from its start`)
  const copies = sim.swarm(sim.source).status().copiesUploaded
  t.diagnostic(`source copies ${copies.toFixed(2)}`)
  assert.ok(copies < 1.6, `source copies ${copies.toFixed(2)}`)
})
