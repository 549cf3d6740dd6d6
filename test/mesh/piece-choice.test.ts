// Endgame copies and their withdrawal on arrival, and piece choice with partial providers (relays still downloading a `blake3/` file, which send a map
// of the blocks they hold): a partial provider is asked only for blocks its map shows, a complete
// one for the rarest blocks first (those no partial provider holds), and endgame copies go only to
// peers that may hold the block. Pure: a plan, a book and peers, no sockets.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BlockPlan } from '../../src/mesh/block-plan.ts'
import { RequestBook } from '../../src/mesh/request-book.ts'
import { DownloadPeer, HOLDINGS_FRESH_MS, holdsBlock } from '../../src/mesh/download-peer.ts'

/** A map of blocks from..from+n-1 where `held(i)` says which are set. */
function map(from: number, n: number, held: (i: number) => boolean): Buffer {
  const bits = Buffer.alloc(Math.ceil(n / 8))
  for (let k = 0; k < n; k++) if (held(from + k)) bits[k >> 3] |= 1 << (k & 7)
  return bits
}

function setup(count: number) {
  const plan = new BlockPlan(count, () => false)
  const relay = new DownloadPeer('relay', 0)
  const seeder = new DownloadPeer('seeder', 1)
  const peers = [relay, seeder]
  const book = new RequestBook(() => plan, (now) => peers.filter((p) => p.holdings(now)))
  return { plan, relay, seeder, book }
}

test('holdsBlock reads bits LSB first from `from`', () => {
  const h = { from: 8, bits: Buffer.from([0b0000_0101]) }
  assert.deepEqual([7, 8, 9, 10, 15, 16].map((i) => holdsBlock(h, i)), [false, true, false, true, false, false])
})

test('a relay holding the first half: it is asked for its blocks, the seeder for the other half first', () => {
  const { relay, seeder, book } = setup(100)
  relay.holds = { from: 0, bits: map(0, 100, (i) => i < 50), at: 0 }
  const s1 = book.next(seeder, 8, 10)!
  assert.deepEqual([s1.first, s1.count], [50, 8], 'the seeder starts where no relay can help')
  const r1 = book.next(relay, 8, 10)!
  assert.deepEqual([r1.first, r1.count], [0, 8], 'the relay gives what it holds')
  for (let i = 0; i < 5; i++) book.next(seeder, 8, 10)
  const s7 = book.next(seeder, 8, 10)!
  assert.deepEqual([s7.first, s7.count], [98, 2], 'the seeder keeps to the rare half while it lasts')
  const s8 = book.next(seeder, 8, 10)!
  assert.deepEqual([s8.first, s8.count], [8, 8], 'then helps with the rest in order')
})

test('a relay is never asked for a block its map lacks, and a stale map is asked again', () => {
  const { relay, book } = setup(40)
  relay.holds = { from: 0, bits: map(0, 40, (i) => i % 2 === 0), at: 0 }
  const got: number[] = []
  for (let r = book.next(relay, 4, 5); r; r = book.next(relay, 4, 5)) for (let i = r.first; i < r.first + r.count; i++) got.push(i)
  assert.ok(got.every((i) => i % 2 === 0), `asked for ${got.join(',')}`)
  assert.equal(got.length, 20)
  const later = book.next(relay, 4, HOLDINGS_FRESH_MS + 1)
  assert.ok(later && later.first % 2 === 1, 'once the map is old the relay may be asked for anything again')
})

test('a reader\'s focus keeps its order: no rarest-first while the gateway reads', () => {
  const { plan, relay, seeder, book } = setup(100)
  relay.holds = { from: 0, bits: map(0, 100, (i) => i < 50), at: 0 }
  plan.focus(10)
  const s = book.next(seeder, 4, 10)!
  assert.deepEqual([s.first, s.count], [10, 4])
})

test('endgame: an idle peer gets a copy of a slow peer\'s request; when the copy arrives the slow request is withdrawn', () => {
  const { plan, relay: slow, seeder: fast, book } = setup(4)
  slow.phase = fast.phase = 'supplier'
  const a = book.next(slow, 4, 0)!
  assert.deepEqual([a.first, a.count], [0, 4])
  a.deadline = 10_000
  assert.equal(book.next(fast, 1, 10), undefined, 'no copy while the slow request is young (srtt 100 ms unmeasured)')
  const copy = book.next(fast, 1, 200)!
  assert.deepEqual([copy.first, copy.count], [0, 1], 'past 1.5 round trips the idle peer gets a copy')
  assert.equal(plan.requests(0), 2)
  // The copy is answered: blocks 0..3 had (the others from elsewhere), then block 0's copies withdrawn.
  book.take(0, fast); book.settle(copy)
  for (let i = 0; i < 4; i++) plan.markHad(i)
  const withdrawn = book.withdrawCopies(0, fast)
  assert.deepEqual(withdrawn.map((r) => r.peer.addr), ['relay'])
  assert.equal(book.size, 0)
  assert.equal(plan.requests(0), 0)
  assert.deepEqual(book.withdrawCopies(0, fast), [], 'nothing twice')
})

test('endgame: a copy still covering a missing block, or a probe to a peer that never answered, stays', () => {
  const { plan, relay: slow, seeder: fast, book } = setup(4)
  slow.phase = 'supplier'
  book.next(slow, 4, 0)
  plan.markHad(0)
  assert.deepEqual(book.withdrawCopies(0, fast), [], 'blocks 1..3 of it are still missing')
  for (let i = 1; i < 4; i++) plan.markHad(i)
  slow.phase = 'candidate'
  assert.deepEqual(book.withdrawCopies(0, fast), [], 'a candidate\'s request is not withdrawn')
})
