// A swarm with liars in it, on real UDP: a source, two honest relays, a relay that corrupts every
// chunk it forwards (after verifying it), a peer that forges heads and lies about who has what, a
// poisoner that mixes junk blocks into the chunks about to come, two squatters that take the
// source's slot in their stripes and feed nothing, and a flood of requests from many fresh sockets
// that never echo a cookie. Every viewer must end with the complete stream, byte-identical to the
// source, without a player stall; the liars must be charged; no honest node may be.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import { createNodes, until } from '../helpers/swarm.ts'
import { SyntheticSource, tempDir } from '../helpers/stream-fixture.ts'
import { CjNode } from '../../src/mesh/node.ts'
import { StreamRegistry } from '../../src/mesh/stream-registry.ts'
import { UdpTransport, parseAddress } from '../../src/mesh/transport.ts'
import type { Transport } from '../../src/mesh/transport.ts'
import { decodeDatagram, encodeDatagram } from '../../src/mesh/messages.ts'
import type { Message } from '../../src/mesh/messages.ts'
import { StreamLog } from '../../src/store/stream-log.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { headSigningBytes } from '../../src/store/signing-bytes.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { Poisoner, Squatter } from '../../scripts/hostile-peers.ts'
import { SegmentGaps } from '../../scripts/segment-gaps.ts'

/** Wraps a transport so every stream Content it sends has one byte flipped: a relay that verifies
 * what it receives and tampers with what it forwards. */
class TamperingTransport implements Transport {
  constructor(private inner: Transport, private streamId: string) {}
  get address(): string { return this.inner.address }
  onDatagram(fn: (buf: Buffer, from: string) => void): void { this.inner.onDatagram(fn) }
  close(): Promise<void> { return this.inner.close() }
  send(buf: Buffer, to: string): void {
    const d = decodeDatagram(buf)
    if (!d.ok || !d.messages.some((m) => m.type === 'Content' && m.id === this.streamId)) return this.inner.send(buf, to)
    const out = d.messages.map((m): Message => {
      if (m.type !== 'Content' || m.id !== this.streamId) return m
      const data = Buffer.from(m.data)
      data[data.length >> 1] ^= 0x5a
      return { ...m, data }
    })
    this.inner.send(encodeDatagram(out), to)
  }
}

test('viewers get the verified stream from a swarm with a corrupting relay, a head forger and a flood', async (t) => {
  const src = await SyntheticSource.create(t, { bitrateBps: 1_500_000, segmentMs: 1000 })
  const id = src.log.id
  const [source, honest1, honest2, forger, ...viewerNodes] = await createNodes(t, 7)
  const corruptTransport = new TamperingTransport(await UdpTransport.bind({ port: 0 }), id)
  const corrupt = new CjNode({ transport: corruptTransport }, { probeIntervalMs: 60_000 })
  t.after(() => corrupt.close())
  const relays = [honest1, honest2, corrupt]
  const all = [source, ...relays, forger, ...viewerNodes]
  for (const n of all) await n.start()
  const regs = new Map(all.filter((n) => n !== forger).map((n) => [n, new StreamRegistry(n)]))
  t.after(() => Promise.all([...regs.values()].map((r) => r.close())))
  regs.get(source)!.add(src.log)
  src.start()
  await until(() => (src.log.head()?.segments ?? 0) >= 4, 10_000, 'source has segments')

  const openReplica = async (n: CjNode, bootstrap: string[]) => {
    const log = await StreamLog.openReplica(await tempDir(t), id)
    t.after(() => log.close())
    for (const b of bootstrap) n.peers.touch(b, 'configured')
    n.probe()
    regs.get(n)!.add(log, { bootstrap })
    return log
  }
  for (const r of relays) await openReplica(r, [source.address])
  await until(() => relays.every((r) => (regs.get(r)!.get(id)!.status().verifiedChunks) > 5), 10_000, 'relays fed')

  // Squatters in two stripes, there before the viewers; a poisoner at every relay and viewer.
  const squatters = [await Squatter.open(id, 0, source.address), await Squatter.open(id, 1, source.address)]
  const poisoner = await Poisoner.open(id, [...relays, ...viewerNodes].map((n) => n.address))
  t.after(() => { for (const q of squatters) q.close(); poisoner.close() })
  for (const q of squatters) q.start()
  poisoner.start()

  // Viewers know the liars first and the source not at all: they must route around the liars.
  const boots = [
    [corrupt.address, forger.address, honest1.address],
    [corrupt.address, honest2.address, forger.address],
    [forger.address, corrupt.address, honest1.address, honest2.address],
  ]
  const viewers = await Promise.all(viewerNodes.map((n, i) => openReplica(n, boots[i])))
  const viewerSwarms = viewerNodes.map((n) => regs.get(n)!.get(id)!)
  const gaps = viewers.map((log, i) => new SegmentGaps(log, () => viewerSwarms[i].status().startChunk))
  t.after(() => { for (const g of gaps) g.stop() })

  // The forger: bad signatures, a replayed old head, a head signed by another key for this id,
  // forged segment records, and lies about who has the stream pointing at nobody.
  const oldHead = src.log.head()!
  const otherKey = generateStreamKey()
  const nobody = ['127.0.0.1:9', '127.0.0.1:1', '127.0.0.3:24254']
  // A well-formed head for this id, properly signed, but by a key that is not the one in the id.
  const otherKeyHead = (chunks: number, segments: number) => {
    const f = { id, chunks, length: chunks * CHUNK_SIZE, segments, time: Date.now(), ended: true }
    return { ...f, sig: Buffer.from(otherKey.sign(headSigningBytes(f))).toString('base64') }
  }
  const forge = setInterval(() => {
    const h = src.log.head()!
    const badSig = { ...h, chunks: h.chunks + 500, length: h.length + 500 * CHUNK_SIZE }
    const msgs: Message[] = [
      { type: 'ThisStreamGrew', head: badSig },
      { type: 'ThisStreamGrew', head: oldHead },
      { type: 'ThisStreamGrew', head: otherKeyHead(h.chunks + 50, h.segments) },
      { type: 'HereAreSegments', id, segments: [{ ...src.log.segment(h.segments - 1)!, n: h.segments + 3, pdt: Date.now() }] },
      { type: 'AskThemInstead', id, stripe: 1, peers: nobody },
      { type: 'MaybeTheyHaveSome', id, peers: nobody },
      { type: 'IWillKeepSendingYou', id, stripe: 2 },
    ]
    for (const v of viewerNodes) forger.send(v.address, msgs)
  }, 300)
  t.after(() => clearInterval(forge))

  // The flood: fresh sockets that never echo a cookie, asking every node for everything.
  const floodSockets: dgram.Socket[] = []
  let floodBytes = 0
  const ask = Buffer.from(JSON.stringify([
    { PleaseAlwaysReturnThisMessage: { cookie: 'x' } }, { PleaseSendStreamHead: { id } }, { PleaseSendPeers: {} },
    { PleaseSendContent: { id, offset: 0, length: CHUNK_SIZE } }, { PleaseKeepSendingMe: { id, stripe: 0, from: 0 } },
    { PleaseSendSegments: { id, from: 0, count: 16 } }, { PleaseSendChunkHashes: { id, from: 0, count: 16 } },
  ]))
  for (let i = 0; i < 8; i++) {
    const s = dgram.createSocket('udp4')
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))
    s.on('message', (m) => { floodBytes += m.length })
    floodSockets.push(s)
  }
  t.after(() => { for (const s of floodSockets) s.close() })
  let floodSent = 0
  // One burst past the unverified bucket (200) from two sockets at the source, whatever the timer
  // manages later on a busy machine.
  // Paced in small groups so the kernel's socket buffer does not drop them before the node sees them.
  for (const s of floodSockets.slice(0, 2)) {
    const a = parseAddress(source.address)!
    for (let k = 0; k < 300; k++) {
      s.send(ask, a.port, a.host)
      floodSent += ask.length
      if (k % 20 === 19) await new Promise((r) => setTimeout(r, 2))
    }
  }
  const flood = setInterval(() => {
    for (const s of floodSockets) {
      for (const n of [source, ...relays, ...viewerNodes]) {
        const a = parseAddress(n.address)!
        // 4 per 20 ms = 200/s per socket: twice the unverified rate limit.
        for (let k = 0; k < 4; k++) s.send(ask, a.port, a.host)
        floodSent += 4 * ask.length
      }
    }
  }, 20)
  t.after(() => clearInterval(flood))

  await new Promise((r) => setTimeout(r, 8000))
  clearInterval(flood)
  clearInterval(forge)
  for (const q of squatters) q.close()
  poisoner.close()
  for (const g of gaps) g.stop()
  src.stop()
  const head = src.log.head()!
  for (const [i, log] of viewers.entries()) {
    const st = regs.get(viewerNodes[i])!.get(id)!.status()
    assert.ok(st.startChunk >= 0, `viewer ${i} joined: ${JSON.stringify(st).slice(0, 400)} ${JSON.stringify(viewerNodes[i].counters)}`)
    await until(() => log.missingChunks(st.startChunk, head.chunks).length === 0, 15_000, `viewer ${i} complete`)
    for (let n = st.startChunk; n < head.chunks; n++) {
      assert.deepEqual(await log.read(n * CHUNK_SIZE, src.log.chunkRecord(n)!.length), await src.log.read(n * CHUNK_SIZE, src.log.chunkRecord(n)!.length), `viewer ${i} chunk ${n}`)
    }
    // The forged head (500 chunks ahead, or 'ended' under another key) was never believed.
    // (Against the source's head now: an append in flight when the test stopped it may land later.)
    assert.ok(log.head()!.chunks <= src.log.head()!.chunks && !log.head()!.ended, `viewer ${i} head is the source's`)
  }
  const at = (n: CjNode, addr: string) => n.peers.get(addr)
  const charged = (addr: string) => viewerNodes.filter((v) => (at(v, addr)?.penalty ?? 0) > 0 || (at(v, addr) && v.peers.isBanned(at(v, addr)!)))
  const report = (addr: string) => viewerNodes.map((v) => `${Math.round(at(v, addr)?.penalty ?? 0)}${at(v, addr) && v.peers.isBanned(at(v, addr)!) ? 'B' : ''}`).join('/')
  t.diagnostic(`penalties at viewers: corrupt ${report(corrupt.address)}, forger ${report(forger.address)}, honest ${report(honest1.address)} ${report(honest2.address)}, source ${report(source.address)}`)
  assert.ok(charged(forger.address).length === viewerNodes.length, `the forger is charged by every viewer: ${report(forger.address)}`)
  const fed = viewerNodes.filter((v) => at(v, corrupt.address)?.deliveredBytes !== undefined)
  assert.ok(charged(corrupt.address).length >= 1 && fed.length > 0, `the corrupting relay is charged: ${report(corrupt.address)}`)
  // The poisoner is banned wherever its junk arrived; the squatters were fed little by the source
  // (what it pushed them is the one copy of their stripe, until their children report them).
  const bannedAt = [...relays, ...viewerNodes].filter((n) => { const p = at(n, poisoner.address); return p !== undefined && n.peers.isBanned(p) })
  const sourceStatus = regs.get(source)!.get(id)!.status()
  t.diagnostic(`poisoner banned at ${bannedAt.length}/${relays.length + viewerNodes.length} nodes after ${poisoner.junkBlocks} junk blocks; ` +
    `source chunks pushed to squatters ${squatters.map((q) => sourceStatus.fedTo[q.address] ?? 0).join(', ')} of ${head.chunks}; ` +
    `longest segment gap per viewer ${gaps.map((g) => g.maxGapMs).join(', ')} ms (startup ${gaps.map((g) => g.startupMs).join(', ')} ms)`)
  // Which nodes its junk reaches in time depends on where each node's edge is when the junk for
  // "the next chunks" arrives (a node already holding them ignores it), so across a busy machine
  // and six nodes the count varies (6/6 to 3/6 seen). It must be banned somewhere, and never charge
  // an honest peer (below); test/mesh/poisoned-blocks.test.ts holds the strict bound: banned at
  // every node within a few chunks.
  assert.ok(bannedAt.length >= 1, 'the poisoner is banned where its junk arrived')
  for (const q of squatters) assert.ok((sourceStatus.fedTo[q.address] ?? 0) <= head.chunks / 8, `the source fed squatter ${q.address} ${sourceStatus.fedTo[q.address]} chunks`)
  // Segments are 1 s here and a viewer starts 3 back: 3 s of buffer. Twice that, as every attack
  // runs at once in one process on a shared machine; a stripe held by a squatter stalled for good
  // before children judged their parents (test/mesh/stripe-squatters.test.ts holds the 3 s bound).
  for (const [i, g] of gaps.entries()) assert.ok(g.maxGapMs < 6000, `viewer ${i} waited ${g.maxGapMs} ms for a segment`)
  for (const h of [honest1, honest2, source]) {
    for (const v of [...viewerNodes, ...relays]) {
      const p = at(v, h.address)
      assert.ok(!p || (!v.peers.isBanned(p) && p.penalty === 0), `honest ${h.address} charged at ${v.address}: ${p?.penalty}`)
    }
  }
  // The flood earned at most twice its bytes back, and every node counted it as dropped or answered small.
  assert.ok(floodBytes <= 2 * floodSent, `flood got ${floodBytes} bytes back for ${floodSent}`)
  for (const n of all) assert.ok(n.counters.ampMaxRatio <= 2, `amplification ${n.counters.ampMaxRatio} at ${n.address}`)
  const limited = [source, ...relays, ...viewerNodes].reduce((s, n) => s + (n.counters.dropped.rate_limited ?? 0), 0)
  t.diagnostic(`flood: sent ${floodSent} B, got back ${floodBytes} B, rate-limited drops ${limited}`)
  assert.ok(limited > 0, 'the flood hit the per-address rate limit')
  const floodCharged = floodSockets.filter((s) => source.peers.get(`127.0.0.1:${s.address().port}`)?.penalty)
  assert.ok(floodCharged.length > 0, 'flooding addresses are charged')
})
