// A full peer table evicts its lowest-ranked entry (the first inserted among equals), never a
// configured or banned one, and without a pass over every entry each time
// (src/mesh/eviction-candidates.ts): the entry it picks is the one such a pass picks, through every
// change a rank can go through.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PeerTable, rank, type Peer } from '../../src/mesh/peers.ts'
import { VirtualTimers, seededRandom } from '../../src/util/timers.ts'

test('PeerTable: a full table evicts its lowest-ranked entry (the first of equals), never a configured or banned one', () => {
  const timers = new VirtualTimers({ start: 10_000 })
  const peers = new PeerTable({ clock: timers, max: 5 })
  const configured = peers.touch('c:1', 'configured')
  const banned = peers.touch('b:1', 'told')
  for (let k = 0; k < 5; k++) peers.penalise(banned, 'bad_chunk')
  const heard = peers.touch('h:1', 'heard')
  heard.lastHeard = timers.now()
  peers.touch('t:1', 'told')
  peers.touch('t:2', 'told')
  // Full: of the two never-heard entries (equal rank) the first goes; configured and banned ones
  // rank lower but are never evicted.
  peers.touch('t:3', 'told')
  assert.equal(peers.get('t:1'), undefined)
  assert.ok(peers.get('c:1') === configured && peers.get('b:1') === banned && peers.get('h:1') === heard && peers.get('t:2') !== undefined)
  // A slower never-heard entry ranks lower than an earlier one.
  peers.recordRtt(peers.get('t:3')!, 900)
  peers.touch('t:4', 'told')
  assert.equal(peers.get('t:3'), undefined)
  assert.ok(peers.get('t:2') !== undefined && peers.get('t:4') !== undefined && peers.get('h:1') !== undefined)
})

test('PeerTable: a full table evicts the entry a pass over every entry picks, through heard, proven, delivering, slower, penalised, banned, unbanned and forgotten entries', () => {
  const rnd = seededRandom(11)
  for (let round = 0; round < 6; round++) {
    const timers = new VirtualTimers({ start: 1_000_000 })
    const max = 150
    const peers = new PeerTable({ clock: timers, max })
    const reasons = ['bad_chunk', 'stale_head', 'flood'] as const
    // peers.ts's rank, worked out over the whole table.
    let next = 0
    for (let step = 0; step < 6000; step++) {
      const all = peers.all()
      const any = () => all[Math.floor(rnd() * all.length)]
      const x = rnd()
      if (x < 0.35 || all.length === 0) {
        let expected: Peer | undefined
        if (peers.size >= max) {
          const now = timers.now()
          for (const p of all) if (p.origin !== 'configured' && p.bannedUntil <= now && (expected === undefined || rank(p) < rank(expected))) expected = p
          expected ??= all[0]
        }
        const origin = rnd() < 0.02 ? 'configured' : rnd() < 0.5 ? 'told' : 'heard'
        const p = peers.touch(`a${next++}`, origin)
        if (origin === 'heard' && rnd() < 0.7) p.lastHeard = timers.now()
        if (expected) assert.equal(peers.get(expected.addr), undefined, `round ${round} step ${step}: evicted the lowest-ranked entry`)
      } else if (x < 0.55) any().lastHeard = timers.now()
      else if (x < 0.62) any().verified = true
      else if (x < 0.67) any().deliveredBytes += rnd() * 5e6
      else if (x < 0.77) peers.recordRtt(any(), rnd() * 2000)
      else if (x < 0.85) peers.penalise(any(), reasons[Math.floor(rnd() * reasons.length)])
      else if (x < 0.88) peers.forget(any().addr)
      else timers.queue.advanceTo(timers.now() + Math.floor(rnd() * 120_000))
    }
  }
})

test('PeerTable: candidates heard since the last pass do not hide a lower entry outside them, nor does a ban that ended', () => {
  const timers = new VirtualTimers({ start: 1_000_000 })
  const peers = new PeerTable({ clock: timers, max: 150 })
  // A slow never-heard entry, banned: the lowest rank of all once its ban ends.
  const slow = peers.touch('slow', 'told')
  peers.recordRtt(slow, 3000)
  for (let k = 0; k < 5; k++) peers.penalise(slow, 'bad_chunk')
  for (let i = 0; i < 149; i++) peers.recordRtt(peers.touch(`a${i}`, 'told'), 100 + i)
  // Full: the slowest of them goes (the slow one is banned). Newcomers here answer fast.
  peers.recordRtt(peers.touch('n0', 'told'), 1)
  assert.equal(peers.get('a148'), undefined)
  // The lowest entries (a147 down to a84) are heard now: above everyone outside them.
  for (let i = 84; i < 148; i++) peers.get(`a${i}`)!.lastHeard = timers.now()
  peers.recordRtt(peers.touch('n1', 'told'), 1)
  assert.equal(peers.get('a83'), undefined, 'the lowest entry outside the old candidates')
  // The ban ends: the slow entry is the lowest of all.
  timers.queue.advanceTo(timers.now() + 11 * 60_000)
  peers.touch('n2', 'told')
  assert.equal(peers.get('slow'), undefined)
})
