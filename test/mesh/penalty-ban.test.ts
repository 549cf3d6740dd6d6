// A peer is banned at BAN_SCORE points; penalties fade a point a minute. Five bad blocks (10 points
// each) within a second ban it: their fading then is a fraction of a point (49.99), which once
// spared it, and whether a sixth bad block was ever asked of it was up to the download.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PeerTable } from '../../src/mesh/peers.ts'
import { VirtualTimers } from '../../src/util/timers.ts'

test('five bad blocks within a second ban a peer; five spread over minutes do not', async () => {
  const clock = new VirtualTimers({ start: 1000 })
  const peers = new PeerTable({ clock, max: 100 })
  const quick = peers.touch('10.0.0.1:1', 'told')
  const slow = peers.touch('10.0.0.2:1', 'told')
  for (let i = 0; i < 5; i++) {
    peers.penalise(quick, 'bad_file_block')
    await clock.runFor(150)
  }
  assert.ok(peers.isBanned(quick), `banned at ${quick.penalty.toFixed(3)} points`)
  for (let i = 0; i < 5; i++) {
    peers.penalise(slow, 'bad_file_block')
    await clock.runFor(90_000)
  }
  assert.ok(!peers.isBanned(slow), `not banned at ${slow.penalty.toFixed(3)} points`)
})
