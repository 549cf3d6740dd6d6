// Property tests of the message table: whatever bytes arrive, decodeDatagram answers (never
// throws), and every message it returns satisfies the invariants the handlers rely on.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { Message } from '../../src/mesh/messages.ts'
import {
  MAX_DATAGRAM_BYTES, MAX_HAVE_BITMAP_BYTES, MAX_ID_LENGTH, MAX_INDEX, MAX_MESSAGES_PER_DATAGRAM, MAX_OPAQUE_JSON_BYTES,
  MAX_PEERS_PER_LIST, MAX_RECORDS_PER_MESSAGE, MAX_REQUEST_LENGTH, STRIPES, decodeDatagram, encodeMessage, isAddress,
  MAX_NEAR_NODES, MAX_PAD_CHARS, MAX_PROVIDERS_PER_REPLY, isContact, encodedSize, messageBytes, messageJson, jsonStringBytes,
} from '../../src/mesh/messages.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { MAX_CHUNK_INDEX } from '../../src/store/record-shape.ts'
import { sampleMessages, mutateDatagram } from '../../scripts/fuzz-corpus.ts'

const uint = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const id = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_LENGTH
const b64len = (s: string, n: number) => Buffer.from(s, 'base64').length === n
const hex64 = (v: unknown) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v)

/** The invariants a handler may assume of a decoded message. */
function checkInvariants(m: Message): void {
  const body = m as unknown as Record<string, unknown>
  if ('id' in body) assert.ok(id(body.id), `${m.type} id`)
  if ('peers' in body) {
    const peers = body.peers as string[]
    assert.ok(peers.length <= MAX_PEERS_PER_LIST && peers.every(isAddress), `${m.type} peers`)
  }
  // Optional addresses a swarm may send to (a complaint's target comes from `via`) are addresses or absent.
  for (const k of ['failed', 'via'] as const) if (k in body) assert.ok(isAddress(body[k]), `${m.type} ${k}`)
  if ('stripe' in body) assert.ok(uint(body.stripe) && (body.stripe as number) < STRIPES, `${m.type} stripe`)
  for (const k of ['offset', 'length', 'from', 'count'] as const) if (k in body) assert.ok(uint(body[k]), `${m.type} ${k}`)
  // Index ranges stay exact: from + count never reaches the float zone where n++ is a no-op.
  if ('from' in body) assert.ok((body.from as number) <= MAX_INDEX, `${m.type} from`)
  if ('value' in body) assert.ok(Buffer.byteLength(JSON.stringify(body.value)) <= MAX_OPAQUE_JSON_BYTES, `${m.type} value size`)
  switch (m.type) {
    case 'Content':
      assert.ok(m.data.length <= MAX_REQUEST_LENGTH, 'content size')
      assert.ok(m.eof === undefined || uint(m.eof))
      assert.ok(m.hops === undefined || (uint(m.hops) && m.hops < 256))
      break
    case 'IHaveChunks': assert.ok(m.bits.length <= MAX_HAVE_BITMAP_BYTES); break
    case 'HereAreChunkHashes':
      assert.ok(m.chunks.length <= MAX_RECORDS_PER_MESSAGE)
      for (const c of m.chunks) {
        assert.ok(uint(c.n) && c.length >= 1 && c.length <= CHUNK_SIZE && uint(c.time))
        assert.ok(c.blocks.length === Math.ceil(c.length / 4096) && c.blocks.every((b) => b64len(b, 32)) && b64len(c.sha256, 32) && b64len(c.sig, 64))
      }
      break
    case 'HereAreSegments':
      assert.ok(m.segments.length <= MAX_RECORDS_PER_MESSAGE)
      for (const s of m.segments) assert.ok(uint(s.offset) && s.length >= 1 && s.duration > 0 && s.duration <= 600 && b64len(s.sig, 64))
      break
    case 'ThisStreamGrew':
      assert.ok(id(m.head.id) && uint(m.head.chunks) && uint(m.head.length) && typeof m.head.ended === 'boolean' && b64len(m.head.sig, 64))
      break
    case 'HereIsTheStreamInfo':
      assert.ok(m.info.format === 'ts' || m.info.format === 'fmp4')
      assert.ok(m.info.init === null || (uint(m.info.init.offset) && m.info.init.length >= 1))
      break
    case 'MyPublicKey': assert.ok(m.ed25519 !== undefined || m.ed25519h !== undefined); break
    case 'WhoIsNear': case 'WhoHas':
      if (m.type === 'WhoIsNear') assert.ok(hex64(m.id), 'WhoIsNear id is a lower-case node-space id')
      assert.ok(m.key === undefined || hex64(m.key), `${m.type} key`)
      assert.ok(!('pad' in m) || m.pad === undefined, 'padding is never handed on')
      break
    case 'TheseAreNear':
      assert.ok(hex64(m.id) && hex64(m.key) && m.nodes.length <= MAX_NEAR_NODES && m.nodes.every(isContact), 'TheseAreNear')
      assert.ok(m.more === undefined || m.more === true)
      break
    case 'TheyHave': assert.ok(m.peers.length <= MAX_PROVIDERS_PER_REPLY && (m.me === undefined || m.me === true)); break
    case 'HereIsMyAudience':
      assert.ok(m.audience.viewers >= 1 && m.audience.viewers === m.audience.byDepth.reduce((a, b) => a + b, 0), 'audience viewers add up')
      assert.ok(Buffer.byteLength(JSON.stringify(m.audience)) < 8192, 'audience bounded')
      break
    default: break
  }
}

function decodeChecked(buf: Uint8Array): void {
  const r = decodeDatagram(buf) // must not throw
  if (!r.ok) return
  assert.ok(r.messages.length <= MAX_MESSAGES_PER_DATAGRAM)
  for (const m of r.messages) checkInvariants(m)
}

test('arbitrary bytes are decoded or dropped, never thrown', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (b) => decodeChecked(b)), { numRuns: 3000 })
})

test('arbitrary JSON values, as arrays of single-key objects or not, decode to valid messages', () => {
  const types = Object.keys(encodeMessage({ type: 'PleaseSendPeers' })).concat(sampleMessages().map((m) => Object.keys(encodeMessage(m))[0]))
  const entry = fc.oneof(
    fc.record({ k: fc.constantFrom(...types), v: fc.jsonValue({ maxDepth: 4 }) }).map(({ k, v }) => ({ [k]: v })),
    fc.jsonValue({ maxDepth: 3 }),
  )
  fc.assert(fc.property(fc.array(entry, { maxLength: 80 }), (arr) => decodeChecked(Buffer.from(JSON.stringify(arr)))), { numRuns: 2000 })
  fc.assert(fc.property(fc.jsonValue(), (v) => decodeChecked(Buffer.from(JSON.stringify(v) ?? 'null'))), { numRuns: 1000 })
})

test('mutated valid datagrams of every message type never throw and keep the invariants', () => {
  const samples = sampleMessages()
  // The samples themselves decode to exactly what was encoded.
  for (const m of samples) {
    const r = decodeDatagram(Buffer.from(JSON.stringify([encodeMessage(m)])))
    assert.ok(r.ok && r.messages.length === 1 && r.messages[0].type === m.type, `round trip ${m.type}`)
  }
  fc.assert(fc.property(fc.constantFrom(...samples), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (m, seed) => {
    decodeChecked(mutateDatagram(Buffer.from(JSON.stringify([encodeMessage(m)])), seed))
  }), { numRuns: 6000 })
})

test('hostile shapes: deep nesting, huge ids, many messages, oversize, garbage base64', () => {
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n)
  const cases = [
    `[{"PleaseAlwaysReturnThisMessage":${deep(30000)}}]`,
    `[{"PleaseReturnThisMessage":{"a":${deep(20000)}}}]`,
    deep(32000),
    JSON.stringify([{ PleaseSendContent: { id: 'x'.repeat(60000), offset: 0, length: 1 } }]),
    JSON.stringify(Array.from({ length: 5000 }, () => ({ PleaseSendPeers: {} }))),
    JSON.stringify([{ Content: { id: 'a', offset: 0, base64: '!!!!' } }, { Content: { id: 'a', offset: 0, base64: 'A'.repeat(60000) } }]),
    JSON.stringify([{ Content: { id: 'a', offset: 1e300, base64: 'AAAA' } }, { PleaseSendContent: { id: 'a', offset: -1, length: 2 ** 60 } }]),
    JSON.stringify([{ PleaseSendChunkHashes: { id: 'stream/x', from: Number.MAX_SAFE_INTEGER, count: 16 } }]),
    JSON.stringify([{ __proto__: 1 }, { constructor: {} }, { toString: 1 }, { hasOwnProperty: {} }]),
    '[{"__proto__":{"PleaseSendPeers":{}}}]',
  ]
  for (const c of cases) decodeChecked(Buffer.from(c))
  assert.equal(decodeDatagram(Buffer.alloc(MAX_DATAGRAM_BYTES + 1, 0x20)).ok, false)
  const many = decodeDatagram(Buffer.from(JSON.stringify(Array.from({ length: 500 }, () => ({ PleaseSendPeers: {} })))))
  assert.deepEqual(many, { ok: false, reason: 'too_many_messages' })
})

test('DHT messages: arbitrary bodies decode to checked messages; lists are capped, bad entries dropped one by one', () => {
  const hexish = fc.oneof(fc.stringMatching(/^[0-9a-fA-F]{64}$/), fc.string({ maxLength: 70 }))
  const contact = fc.oneof(fc.tuple(fc.stringMatching(/^[0-9a-f]{64}$/), fc.constantFrom('127.0.0.1:9', '[::1]:24254', '10.0.0.1:0', 'x:1')).map(([k, a]) => `${k}@${a}`), fc.string())
  const body = fc.record({
    id: fc.oneof(hexish, fc.string({ maxLength: 300 }), fc.integer()),
    key: fc.option(hexish),
    pad: fc.option(fc.oneof(fc.string({ maxLength: MAX_PAD_CHARS + 50 }), fc.integer())),
    nodes: fc.array(contact, { maxLength: 40 }),
    peers: fc.array(fc.oneof(fc.constantFrom('127.0.0.1:9', '[::1]:1', '999.1.1.1:1'), fc.string()), { maxLength: 40 }),
    more: fc.option(fc.jsonValue({ maxDepth: 1 })),
    me: fc.option(fc.jsonValue({ maxDepth: 1 })),
  }, { requiredKeys: [] })
  const type = fc.constantFrom('WhoIsNear', 'TheseAreNear', 'WhoHas', 'TheyHave', 'IHave')
  fc.assert(fc.property(fc.array(fc.tuple(type, body), { maxLength: 20 }), (entries) => {
    decodeChecked(Buffer.from(JSON.stringify(entries.map(([k, v]) => ({ [k]: v })))))
  }), { numRuns: 3000 })
  const near = decodeDatagram(Buffer.from(JSON.stringify([{ TheseAreNear: { id: 'A'.repeat(64), key: 'b'.repeat(64), nodes: ['junk', `${'c'.repeat(64)}@127.0.0.1:5`, ...Array(40).fill(`${'d'.repeat(64)}@127.0.0.1:6`)] } }])))
  assert.ok(near.ok && near.messages[0].type === 'TheseAreNear')
  const m = near.messages[0] as Extract<Message, { type: 'TheseAreNear' }>
  assert.equal(m.id, 'a'.repeat(64), 'ids are lower-cased')
  assert.equal(m.nodes[0], `${'c'.repeat(64)}@127.0.0.1:5`, 'a bad contact costs only itself')
  assert.ok(m.nodes.length <= MAX_NEAR_NODES)
  const padded = decodeDatagram(Buffer.from(JSON.stringify([{ WhoHas: { id: 'x', pad: '.'.repeat(MAX_PAD_CHARS + 1) } }])))
  assert.ok(padded.ok && padded.messages.length === 0, 'an oversized pad drops the question')
})

test('a subscription with a bad failed address stands without it; via is kept only when it is an address', () => {
  const id = `stream/${'ab'.repeat(32)}/x`
  const d = decodeDatagram(Buffer.from(JSON.stringify([
    { PleaseKeepSendingMe: { id, stripe: 1, from: 5, failed: '../etc' } },
    { PleaseKeepSendingMe: { id, stripe: 1, from: 5, failed: '127.0.0.1:9' } },
    { IWillKeepSendingYou: { id, stripe: 2, via: 7 } },
    { IWillKeepSendingYou: { id, stripe: 2, via: '[::1]:24254' } },
  ])))
  assert.ok(d.ok)
  if (!d.ok) return
  assert.deepEqual(d.messages, [
    { type: 'PleaseKeepSendingMe', id, stripe: 1, from: 5 },
    { type: 'PleaseKeepSendingMe', id, stripe: 1, from: 5, failed: '127.0.0.1:9' },
    { type: 'IWillKeepSendingYou', id, stripe: 2 },
    { type: 'IWillKeepSendingYou', id, stripe: 2, via: '[::1]:24254' },
  ])
})

test('any other message\'s size worked out from its fields is its encoded length', () => {
  const id = `stream/${'ab'.repeat(32)}/x`
  // The messages a relay sends most, as the swarm builds them.
  const typical: Message[] = [
    { type: 'PleaseSendContent', id, offset: 16384 * 7, length: 16384 },
    { type: 'MaybeTheyHaveSome', id, peers: ['127.0.0.1:40001', '[::1]:24254'] },
    { type: 'MaybeTheyHaveSome', id, peers: [] },
    { type: 'PleaseKeepSendingMe', id, stripe: 1, from: 5, failed: '127.0.0.1:9' },
    { type: 'IWillKeepSendingYou', id, stripe: 2, via: '[::1]:24254' },
    { type: 'PleaseSendPeers' }, { type: 'PleaseReturnThisMessage', value: 123 }, { type: 'ThisStreamGrew', id, head: { chunks: 3 } } as unknown as Message,
    // A pushed chunk's record, and records with what JSON spells its own way inside them.
    { type: 'HereAreChunkHashes', id, chunks: [{ n: 7, length: 16384, blocks: ['ab'.repeat(32), 'cd'.repeat(32)], sha256: 'ef'.repeat(32), time: 1_796_000_000_123.5, sig: 'x'.repeat(86) + '==' }] },
    { type: 'HereAreChunkHashes', id, chunks: [{ n: -0, blocks: [undefined, () => 1, NaN, 'é\u0000'], sha256: undefined, time: new Date(0), data: Buffer.from('hi'), x: { toJSON: () => 'short' } }] } as unknown as Message,
    { type: 'HereAreChunkHashes', id, chunks: JSON.parse('[{"__proto__":{"n":1},"sig":"s"},{}]') as never[] },
  ]
  for (const m of typical) assert.equal(messageBytes(m), Buffer.byteLength(JSON.stringify(encodeMessage(m))), m.type)
  // Any fields at all, in any order, with values JSON leaves out or spells differently.
  const value = fc.oneof(fc.jsonValue(), fc.constant(undefined), fc.constant(NaN), fc.constant(-0), fc.constant(Infinity),
    fc.array(fc.string({ unit: 'grapheme' })), fc.string({ unit: 'binary', maxLength: 300 }))
  fc.assert(fc.property(
    fc.constantFrom('PleaseSendContent', 'MaybeTheyHaveSome', 'PleaseKeepSendingMe', 'AskThemInstead', 'HereAreSegments', 'IWillKeepSendingYou', 'StopSendingMe', 'PleaseSendStreamHead', 'HereAreChunkHashes'),
    fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 12 }).filter((k) => k !== 'type' && k !== '__proto__'), value),
    (type, body) => {
      const m = { type, ...body } as unknown as Message
      assert.equal(messageBytes(m), Buffer.byteLength(JSON.stringify(encodeMessage(m))))
      // A reply's size against an unproven peer's 2x room is measured the same way.
      assert.equal(encodedSize(m), Buffer.byteLength(JSON.stringify(encodeMessage(m))) + 1)
    },
  ), { numRuns: 2000 })
})

test('a string\'s JSON length counted from its characters is its encoded length, escapes and lone surrogates too', () => {
  for (const s of ['', 'a', '"', '\\', '\b\f\n\r\t', '\u0000\u001f', '\u007f', '\u00e9', '\u20ac', '\ud83d\ude00', '\ud83d', '\ude00', 'x\ud83dy', '127.0.0.1:40001', '[::1]:24254']) {
    assert.equal(jsonStringBytes(s), Buffer.byteLength(JSON.stringify(s)), JSON.stringify(s))
  }
  fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 600 }), fc.string({ unit: 'grapheme' }), fc.string()),
    (s) => assert.equal(jsonStringBytes(s), Buffer.byteLength(JSON.stringify(s)))), { numRuns: 5000 })
})

test('a Content message\'s size worked out without encoding it is its encoded length, and a chunk position past the record bound is dropped', () => {
  fc.assert(fc.property(
    fc.string({ maxLength: 80, unit: 'grapheme' }), fc.nat(), fc.uint8Array({ maxLength: 5000 }), fc.option(fc.nat(), { nil: undefined }), fc.option(fc.nat({ max: 255 }), { nil: undefined }), fc.boolean(),
    (id, offset, data, eof, hops, repaired) => {
      const m: Message = { type: 'Content', id, offset, data: Buffer.from(data), ...(eof !== undefined ? { eof } : {}), ...(hops !== undefined ? { hops } : {}), ...(repaired ? { repaired } : {}) }
      assert.equal(messageBytes(m), Buffer.byteLength(JSON.stringify(encodeMessage(m))))
      assert.equal(messageJson(m).bytes, messageBytes(m))
    },
  ))
  const ask = (from: number) => decodeDatagram(Buffer.from(JSON.stringify([{ PleaseSendChunkHashes: { id: 'stream/x', from, count: 4 } }])))
  const kept = (from: number) => { const d = ask(from); return d.ok && d.messages.length === 1 }
  assert.ok(kept(MAX_CHUNK_INDEX + 1), 'one past the last index names the live edge')
  assert.ok(!kept(MAX_CHUNK_INDEX + 2), 'beyond it is dropped')
})
