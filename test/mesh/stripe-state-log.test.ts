// Stripe states are declared (StripeParents.state) and every change is logged at debug as
// `from -> to`, on virtual time with the shipped nodes: a joiner's four stripes each go from idle,
// through an ask, to subscribed, and nothing is logged when nothing changed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runUntil, virtualSwarm } from '../helpers/virtual-swarm.ts'
import type { Logger } from '../../src/util/logger.ts'
import { STRIPES } from '../../src/mesh/messages.ts'

test('stripe state transitions are logged at debug, idle -> asked -> subscribed', async (t) => {
  const sim = await virtualSwarm(t, { bitrateBps: 500_000 })
  await runUntil(sim, () => (sim.source.log.head()?.segments ?? 0) >= 3, 10_000, 'source has segments')
  const seen: Array<{ stripe: number; from: string; to: string }> = []
  const logger: Logger = {
    debug: (msg, f) => { if (msg === 'stripe state') seen.push(f as { stripe: number; from: string; to: string }) },
    info() {}, warn() {}, error() {}, child: () => logger,
  }
  const member = await sim.join([sim.source.node.address], { logger })
  const sw = sim.swarm(member)
  await runUntil(sim, () => sw.status().parents.every((p) => p !== null), 10_000, 'a parent in every stripe')
  await sim.runFor(3000)
  for (let s = 0; s < STRIPES; s++) {
    const mine = seen.filter((e) => e.stripe === s)
    assert.ok(mine.length >= 2, `stripe ${s}: transitions logged (${JSON.stringify(mine)})`)
    assert.equal(mine[0].from, 'idle', `stripe ${s} starts idle`)
    assert.ok(mine.some((e) => e.to === 'asked' || e.to === 'hello'), `stripe ${s} asked a parent`)
    assert.equal(mine[mine.length - 1].to, 'subscribed', `stripe ${s} ends subscribed`)
    // Each entry continues from the previous one: no change is missed or logged twice.
    for (let i = 1; i < mine.length; i++) assert.equal(mine[i].from, mine[i - 1].to)
    for (const e of mine) assert.notEqual(e.from, e.to)
  }
})
