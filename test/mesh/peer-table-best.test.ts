// PeerTable.best picks the first n accepted entries of a stable sort in one pass (a probe's 16 of
// up to 2,000 entries, every 10 s): the same entries, in the same order, ties in table order.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { PeerTable, type Peer } from '../../src/mesh/peers.ts'
import { VirtualTimers } from '../../src/util/timers.ts'

test('PeerTable.best: the first n accepted entries of a stable sort, ties in table order', () => {
  fc.assert(fc.property(
    fc.array(fc.record({ configured: fc.boolean(), heard: fc.nat({ max: 5 }), keep: fc.boolean() }), { maxLength: 60 }),
    fc.nat({ max: 20 }),
    (rows, n) => {
      const peers = new PeerTable({ clock: new VirtualTimers({ start: 1000 }), max: 100 })
      rows.forEach((r, i) => {
        const p = peers.touch(`10.0.0.${i}:1`, r.configured ? 'configured' : 'told')
        p.lastHeard = r.heard
      })
      const kept = new Set(rows.flatMap((r, i) => (r.keep ? [`10.0.0.${i}:1`] : [])))
      const keep = (p: Peer): boolean => kept.has(p.addr)
      // The probe's order, as it was written with a sort: configured first, then the most recently heard.
      const before = (a: Peer, b: Peer): boolean => (a.origin === 'configured') !== (b.origin === 'configured') ? a.origin === 'configured' : a.lastHeard > b.lastHeard
      const sorted = peers.all().filter(keep)
        .sort((a, b) => (b.origin === 'configured' ? 1 : 0) - (a.origin === 'configured' ? 1 : 0) || b.lastHeard - a.lastHeard)
        .slice(0, n)
      assert.deepEqual(peers.best(n, before, keep).map((p) => p.addr), sorted.map((p) => p.addr))
    },
  ), { numRuns: 500 })
})
