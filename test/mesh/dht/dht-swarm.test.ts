// 200 DHT nodes in one process on the in-process network and virtual time: lookups find the
// providers of announced ids in a few round trips, and still succeed with 30 % of the nodes gone.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runDhtSwarm, quantile } from '../../../src/sim/dht-swarm.ts'

test('200 nodes: providers found in <= 4 round trips median, <= 8 at p99; >= 99 % found with 30 % gone', { timeout: 240_000 }, async (t) => {
  const r = await runDhtSwarm({ nodes: 200, ids: 40, providersPerId: 2, lookups: 300, goneShare: 0.3, delayMs: 10, seed: 7 })
  const h = r.healthy
  const d = r.degraded
  t.diagnostic(`healthy: ${h.found}/${h.lookups} found, round trips median ${quantile(h.roundTrips, 0.5)} p99 ${quantile(h.roundTrips, 0.99)}`)
  t.diagnostic(`30 % gone: ${d.found}/${d.lookups} found; table sizes median ${quantile(r.tableSizes, 0.5)} min ${Math.min(...r.tableSizes)}`)
  assert.equal(h.found, h.lookups, 'every lookup in the healthy swarm finds a provider')
  assert.ok(quantile(h.roundTrips, 0.5) <= 4, 'median <= 4 round trips')
  assert.ok(quantile(h.roundTrips, 0.99) <= 8, 'p99 <= 8 round trips')
  assert.ok(d.found >= 0.99 * d.lookups, `>= 99 % found with 30 % gone (${d.found}/${d.lookups})`)
  assert.ok(Math.min(...r.tableSizes) >= 8, 'every live node knows at least a lookup width of contacts')
})
