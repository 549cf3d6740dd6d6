// Encryption between our peers over real UDP sockets on loopback, through a tap: a forwarding
// socket between two nodes that records every datagram and can tamper with one. What the tap may
// never see once the handshake is done is the text of our messages; what a node must do with a
// tampered datagram is drop it and charge its sender. A classic peer (plain JSON by hand) is never
// offered a handshake and keeps getting plain JSON.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import { CjNode } from '../../src/mesh/node.ts'
import { UdpTransport } from '../../src/mesh/transport.ts'
import { SecureSessions } from '../../src/mesh/secure/secure-sessions.ts'
import { SEALED_MAGIC } from '../../src/mesh/secure/sealed-frame.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { decodeOpened, encodeBinaryTail, encodeDatagram, type Message } from '../../src/mesh/messages.ts'
import { randomBytes } from 'node:crypto'
import { RawPeer } from '../helpers/raw-peer.ts'
import { until } from '../helpers/swarm.ts'

/** A UDP forwarder: `a` talks to `tap.address` as if it were `b`; every datagram passes through
 * `onPass` (which may rewrite it) and is recorded. */
async function tap(t: TestContext, b: string) {
  const toB = dgram.createSocket('udp4')
  await new Promise<void>((r) => toB.bind(0, '127.0.0.1', () => r()))
  const [bHost, bPort] = [b.slice(0, b.lastIndexOf(':')), Number(b.slice(b.lastIndexOf(':') + 1))]
  let aAddr: { address: string; port: number } | undefined
  const seen: Array<{ dir: 'a->b' | 'b->a'; buf: Buffer }> = []
  const state = { tamperNextSealedToB: false, tampered: 0 }
  toB.on('message', (buf, rinfo) => {
    if (`${rinfo.address}:${rinfo.port}` === `${bHost}:${bPort}`) {
      seen.push({ dir: 'b->a', buf })
      if (aAddr) toB.send(buf, aAddr.port, aAddr.address)
    } else {
      aAddr = { address: rinfo.address, port: rinfo.port }
      let out = buf
      if (state.tamperNextSealedToB && buf[0] === SEALED_MAGIC) {
        out = Buffer.from(buf)
        out[out.length - 20] ^= 0x01
        state.tamperNextSealedToB = false
        state.tampered++
      }
      seen.push({ dir: 'a->b', buf: out })
      toB.send(out, bPort, bHost)
    }
  })
  t.after(() => new Promise<void>((r) => toB.close(() => r())))
  const a = toB.address()
  return { address: `${a.address}:${a.port}`, seen, state }
}

async function secureNode(t: TestContext, bootstrap: string[] = []) {
  const transport = await UdpTransport.bind({ host: '127.0.0.1', port: 0 })
  const node = new CjNode({ transport }, { probeIntervalMs: 60_000, bootstrap })
  const secure = new SecureSessions({ node, key: generateStreamKey() })
  const got: string[] = []
  const chunks: Buffer[] = []
  node.handle('HereIsMyAudience', (m) => { got.push(m.id ?? `tag ${m.tag}`) })
  node.handle('Content', (m) => { chunks.push(m.data) })
  t.after(async () => { secure.close(); await node.close() })
  return { node, secure, got, chunks }
}

/** B, a tap in front of it, and A talking to B through the tap, with their session made. */
async function sealedPair(t: TestContext) {
  const b = await secureNode(t)
  await b.node.start()
  b.secure.startTimer()
  const wire = await tap(t, b.node.address)
  const a = await secureNode(t, [wire.address])
  await a.node.start()
  a.secure.startTimer()
  await until(() => a.secure.sealsTo(wire.address) && b.secure.counters.opened > 0, 10_000, 'an encrypted session both ways')
  return { a, b, wire }
}

const SECRET = 'stream/very-secret-stream-name-1234'

test('two nodes over UDP: a Noise session, then a tap sees only sealed frames and no message text', async (t) => {
  const { a, b, wire } = await sealedPair(t)
  // Each side knows which node key it talks to, proven inside the handshake.
  assert.ok(a.secure.keyOf(wire.address) && /^[0-9a-f]{64}$/.test(a.secure.keyOf(wire.address)!))
  const mark = wire.seen.length
  for (let i = 0; i < 5; i++) a.node.send(wire.address, [{ type: 'HereIsMyAudience', id: SECRET, audience: { viewers: 1 } as never, counts: true }])
  await until(() => b.got.length >= 5, 5000, 'the messages arrived')
  assert.deepEqual(b.got, Array(5).fill(SECRET))
  const after = wire.seen.slice(mark)
  assert.ok(after.length >= 5, `the tap saw ${after.length} datagrams`)
  for (const d of after) {
    assert.equal(d.buf[0], SEALED_MAGIC, `${d.dir}: every datagram after the handshake is sealed`)
    const text = d.buf.toString('latin1')
    for (const word of ['HereIsMyAudience', 'very-secret', 'AlwaysReturned', 'stream/']) assert.ok(!text.includes(word), `${d.dir}: "${word}" is not readable on the wire`)
  }
  // Control: before the session, the same tap read our messages in the clear.
  assert.ok(wire.seen.slice(0, mark).some((d) => d.buf.toString('latin1').includes('IAlsoSpeak')), 'the hello was plain JSON')
})

test('a tampered sealed datagram is dropped and its sender charged; the session goes on', async (t) => {
  const { a, b, wire } = await sealedPair(t)
  const penaltyBefore = b.node.peers.get(wire.address)?.penalty ?? 0
  wire.state.tamperNextSealedToB = true
  a.node.send(wire.address, [{ type: 'HereIsMyAudience', id: `${SECRET}-tampered`, audience: { viewers: 1 } as never, counts: true }])
  await until(() => (b.node.counters.dropped.bad_seal ?? 0) >= 1, 5000, 'the tampered datagram dropped')
  assert.equal(wire.state.tampered, 1)
  assert.equal(b.secure.counters.badSeal, 1)
  assert.ok(!b.got.includes(`${SECRET}-tampered`), 'nothing of it was handled')
  assert.ok((b.node.peers.get(wire.address)?.penalty ?? 0) > penaltyBefore, 'its sender was charged')
  // Control: the next, untouched datagram goes through.
  a.node.send(wire.address, [{ type: 'HereIsMyAudience', id: `${SECRET}-ok`, audience: { viewers: 1 } as never, counts: true }])
  await until(() => b.got.includes(`${SECRET}-ok`), 5000, 'the next datagram')
})

test('a classic peer (plain JSON by hand) is never offered a handshake and keeps getting plain JSON', async (t) => {
  const b = await secureNode(t)
  await b.node.start()
  b.secure.startTimer()
  const raw = await RawPeer.open(t, b.node.address)
  await raw.send([{ PleaseAlwaysReturnThisMessage: { cookie: '0a1b2c3d' } }, { PleaseSendPeers: {} }])
  await raw.waitFor('PleaseAlwaysReturnThisMessage')
  await raw.sendEchoing([{ PleaseReturnThisMessage: 'hi' }])
  assert.deepEqual(await raw.waitFor('ReturnedMessage'), 'hi' as never)
  await new Promise((r) => setTimeout(r, 1500))
  assert.ok(raw.received.length >= 2)
  assert.equal(raw.all('LetUsEncrypt').length, 0, 'no handshake offered')
  // Every datagram it got parsed as plain JSON (RawPeer parses each one; a sealed one would throw).
  assert.ok(raw.received.every((d) => d.text.startsWith('[')))
  assert.equal(b.secure.counters.started, 0)
})

test('sealed, a chunk travels as bytes after the JSON: intact, and smaller than base64 JSON', async (t) => {
  const { a, b, wire } = await sealedPair(t)
  const data = randomBytes(4096)
  const m: Message = { type: 'Content', id: SECRET, offset: 8192, data, hops: 2 }
  const mark = wire.seen.length
  a.node.send(wire.address, [m])
  await until(() => b.chunks.length >= 1, 5000, 'the chunk')
  assert.ok(b.chunks[0].equals(data), 'the bytes arrived intact')
  const frame = wire.seen.slice(mark).find((d) => d.dir === 'a->b' && d.buf.length > 4096)!
  const plainJson = encodeDatagram([m]).length
  process.stderr.write(`a 4096-byte block: ${frame.buf.length} bytes sealed with a binary tail, ${plainJson} as plain base64 JSON\n`)
  assert.ok(frame.buf.length < plainJson * 0.8, `sealed ${frame.buf.length} bytes against ${plainJson} as base64 JSON`)
  assert.ok(frame.buf.length - data.length < 200, `framing and JSON cost ${frame.buf.length - data.length} bytes for a 4096-byte block`)
})

test('a binary tail is read only within its bounds', () => {
  const ok = encodeBinaryTail(['{"Content":{"id":"x","offset":0,"bytes":3}}'], [Buffer.from('abc')])
  const r = decodeOpened(ok)
  assert.ok(r.ok && r.messages[0].type === 'Content' && r.messages[0].data.toString() === 'abc')
  // Claims more bytes than the tail holds: that message is skipped as bad, nothing is read past the end.
  const short = decodeOpened(encodeBinaryTail(['{"Content":{"id":"x","offset":0,"bytes":9}}'], [Buffer.from('abc')]))
  assert.ok(short.ok && short.messages.length === 0 && short.skipped.bad === 1)
  // A JSON length past the end is no datagram at all.
  const cut = Buffer.from(ok)
  cut.writeUInt32BE(1000, 1)
  assert.deepEqual(decodeOpened(cut), { ok: false, reason: 'not_json' })
})
