// A stream's holders, most recently heard first: the lazy walk a refusal reads its eight from gives
// the very list the eager one does (order, exclusion, bans), each time it is iterated.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Holders, MAX_HOLDERS } from '../../src/mesh/stream/holders.ts'
import { PeerTable } from '../../src/mesh/peers.ts'
import type { SwarmContext } from '../../src/mesh/stream/swarm-context.ts'
import { VirtualTimers } from '../../src/util/timers.ts'

const addr = (i: number) => `10.0.${i >> 8}.${i & 255}:7000`

function holdersWith(peers: PeerTable): Holders {
  // Holders read only our own address and the peer table (for bans).
  const context = { node: { address: 'me:1', peers } } as unknown as SwarmContext
  return new Holders({ context }, { bootstrap: [] })
}

test('Holders.walk yields what list() returns, newest first, without the excluded or banned, every time it is iterated', () => {
  const timers = new VirtualTimers({ start: 1000 })
  const peers = new PeerTable({ clock: timers })
  const holders = holdersWith(peers)
  for (let i = 0; i < MAX_HOLDERS + 40; i++) holders.note(addr(i))
  // Heard again: to the newest end.
  holders.note(addr(100))
  holders.note('me:1')
  const banned = peers.touch(addr(200), 'heard')
  for (let k = 0; k < 5; k++) peers.penalise(banned, 'bad_chunk')
  assert.ok(peers.isBanned(banned))
  const list = holders.list(addr(150))
  assert.equal(list.length, MAX_HOLDERS - 2, 'the oldest forgotten past the bound, one excluded, one banned')
  assert.equal(list[0], addr(100))
  assert.ok(!list.includes(addr(200)) && !list.includes(addr(150)) && !list.includes('me:1') && !list.includes(addr(0)))
  const walk = holders.walk(addr(150))
  assert.deepEqual([...walk], list)
  assert.deepEqual([...walk], list, 'a second pass sees the same')
  // A walk cut short reads the same first entries as a list with a limit.
  const first: string[] = []
  for (const a of walk) { if (first.length === 8) break; first.push(a) }
  assert.deepEqual(first, holders.list(addr(150), 8))
})
