// The pure parts of names and search: the words of a name, the keyword store's caps and expiry,
// and the decoders of the new messages (remote garbage dropped, ill-formed items dropped alone).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { wordsOf, nameMatches, MAX_WORDS_PER_NAME } from '../../../src/mesh/dht/name-words.ts'
import { KeywordStore } from '../../../src/mesh/dht/keyword-store.ts'
import { PROVIDER_TTL_MS, MAX_ANNOUNCES_PER_MINUTE } from '../../../src/mesh/dht/provider-store.ts'
import { decodeDatagram, encodeDatagram, MAX_NAMED_ITEMS } from '../../../src/mesh/messages.ts'
import type { Message } from '../../../src/mesh/messages.ts'

const ID = 'a'.repeat(64)

test('wordsOf: lower-case letters and digits of any script, 2..32 long, distinct, capped', () => {
  assert.deepEqual(wordsOf('Holiday_Film (2026) - FINAL.final.mp4'), ['holiday', 'film', '2026', 'final', 'mp4'])
  assert.deepEqual(wordsOf('Ünïcode Straße 東京タワー a b'), ['ünïcode', 'straße', '東京タワー'])
  assert.deepEqual(wordsOf('x'.repeat(33) + ' ok'), ['ok'])
  assert.equal(wordsOf('a1 b2 c3 d4 e5 f6 g7 h8 i9 j10').length, MAX_WORDS_PER_NAME)
  assert.ok(nameMatches('Holiday Film.mp4', ['film', 'holiday']))
  assert.ok(!nameMatches('Holiday Film.mp4', ['films']))
})

test('keyword store: refresh, expiry, per-address rate, and caps that keep old entries', () => {
  let now = 1_000_000
  const clock = { now: () => now }
  const s = new KeywordStore(clock, { maxWords: 2, maxFiles: 2, maxProviders: 2 })
  const item = (i: number) => ({ id: String(i).padStart(64, '0'), name: `film ${i}`, size: i })
  assert.equal(s.add('film', item(1), 'p1:1'), 'stored')
  assert.equal(s.add('film', item(1), 'p1:1'), 'refreshed')
  assert.equal(s.add('film', item(1), 'p2:1'), 'stored')
  assert.equal(s.add('film', item(1), 'p3:1'), 'providers_full')
  assert.equal(s.add('film', item(2), 'p1:1'), 'stored')
  assert.equal(s.add('film', item(3), 'p1:1'), 'files_full', 'a full word keeps what it has')
  assert.equal(s.add('other', item(1), 'p1:1'), 'stored')
  assert.equal(s.add('third', item(1), 'p1:1'), 'words_full')
  const got = s.get('film')
  assert.deepEqual(got.map((g) => [g.id, g.providers]), [[item(1).id, 2], [item(2).id, 1]], 'most provided first')
  now += PROVIDER_TTL_MS + 1
  assert.deepEqual(s.get('film'), [], 'unrefreshed announcements expire')
  assert.equal(s.add('film', item(3), 'p1:1'), 'stored', 'expired entries make room')

  const r = new KeywordStore(clock)
  let limited = 0
  for (let i = 0; i < MAX_ANNOUNCES_PER_MINUTE + 10; i++) if (r.add(`w${i}`, item(i), 'flood:1') === 'rate_limited') limited++
  assert.equal(limited, 10, 'one address gets its minute\'s allowance, no more')
})

test('names messages: decoded with every field checked; bad items dropped alone; round trip', () => {
  const good: Message[] = [
    { type: 'IHaveNamed', word: 'film', id: ID, name: 'Holiday Film.mp4', size: 5 },
    { type: 'WhoHasNamed', word: 'film' },
    { type: 'TheseAreNamed', word: 'film', items: [{ id: ID, name: 'Holiday Film.mp4', size: 5, providers: 2, peers: ['127.0.0.1:5'] }] },
    { type: 'PleaseListWhatYouHave', from: 16 },
    { type: 'HereIsWhatIHave', from: 0, items: [{ id: ID, name: 'a.bin', size: 1 }], next: 1 },
  ]
  const r = decodeDatagram(encodeDatagram(good))
  assert.ok(r.ok)
  assert.deepEqual(r.messages, good)
  const bad = [
    { IHaveNamed: { word: 'F', id: ID, name: 'F.mp4', size: 5 } }, // upper case / one letter
    { IHaveNamed: { word: 'film', id: ID, name: '../etc/film', size: 5 } }, // a path is no name
    { IHaveNamed: { word: 'film', id: ID, name: 'film', size: -1 } },
    { WhoHasNamed: { word: 'x'.repeat(33) } },
    { PleaseListWhatYouHave: { from: 'all' } },
  ]
  const rb = decodeDatagram(Buffer.from(JSON.stringify(bad)))
  assert.ok(rb.ok)
  assert.equal(rb.messages.length, 0)
  assert.equal(rb.skipped.bad, bad.length)
  const many = { TheseAreNamed: { word: 'film', items: [...Array.from({ length: 40 }, () => ({ id: ID, name: 'ok', size: 1 })), { id: ID, name: 'a\u0000b', size: 1 }] } }
  const rm = decodeDatagram(Buffer.from(JSON.stringify([many, { TheseAreNamed: { word: 'film', items: [{ id: ID, name: 'a\nb', size: 1 }, { id: ID, name: 'ok', size: 1 }] } }])))
  assert.ok(rm.ok)
  assert.equal((rm.messages[0] as Extract<Message, { type: 'TheseAreNamed' }>).items.length, MAX_NAMED_ITEMS, 'capped')
  assert.equal((rm.messages[1] as Extract<Message, { type: 'TheseAreNamed' }>).items.length, 1, 'the bad item alone is dropped')
})
