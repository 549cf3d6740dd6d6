import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileNode, shareRandom } from '../helpers/file-swarm.ts'
import { RawPeer } from '../helpers/raw-peer.ts'
import type { Raw } from '../helpers/raw-peer.ts'
import { FileRouter } from '../../src/mesh/file-router.ts'
import { noMetrics } from '../../src/metrics/types.ts'
import type { TrafficKind } from '../../src/metrics/types.ts'

/** A raw peer whose address the node has verified (it echoed the node's cookie). */
async function verifiedPeer(t: Parameters<typeof RawPeer.open>[0], target: string): Promise<RawPeer> {
  const p = await RawPeer.open(t, target)
  await p.send([{ PleaseAlwaysReturnThisMessage: { cookie: '0a1b2c3d' } }, { PleaseSendPeers: {} }])
  await p.waitFor('PleaseAlwaysReturnThisMessage')
  return p
}

/** Sends a datagram, then a sentinel, and returns once the sentinel came back (replies to the first
 * are in by then: the node answers datagrams in order when no disk read is involved). */
async function settle(p: RawPeer, msgs: Raw[], tag: string): Promise<void> {
  await p.sendEchoing(msgs)
  await p.sendEchoing([{ PleaseReturnThisMessage: tag }])
  await p.waitFor('ReturnedMessage', (b) => (b as unknown) === tag)
}

test('ids with / or \\ (and hidden names, stream ids) get no reply at all', async (t) => {
  const a = await fileNode(t)
  const p = await verifiedPeer(t, a.node.address)
  const bad = ['../../etc/passwd', 'a\\b', 'stream/' + 'ab'.repeat(32) + '/live', '.hidden', 'incoming']
  await settle(p, bad.map((id) => ({ PleaseSendContent: { id, offset: 0, length: 4096 } })), 'after-bad')
  assert.equal(p.all('Content').length, 0)
  assert.equal(p.all('MaybeTheyHaveSome').length, 0)
})

test('an unverified sender asking for a big block gets at most 32 data bytes, with eof, within 2x its bytes', async (t) => {
  const a = await fileNode(t)
  const f = await shareRandom(t, 100_000, a)
  const p = await RawPeer.open(t, a.node.address)
  const sent = await p.send([{ PleaseSendContent: { id: f.id, offset: 4096, length: 40960 } }])
  const c = await p.waitFor('Content')
  const data = Buffer.from(c.base64 as string, 'base64')
  assert.ok(data.length <= 32, `${data.length} bytes to an unverified address`)
  assert.equal(c.eof, 100_000)
  assert.ok(data.equals(f.bytes.subarray(4096, 4096 + data.length)))
  const got = p.received.reduce((n, d) => n + Buffer.byteLength(d.text), 0)
  assert.ok(got <= 2 * sent, `${got} bytes back for ${sent}`)
})

test('replies carry exactly min(length, eof - offset) bytes, 4096 at most to a foreign peer, padded base64, always eof', async (t) => {
  const a = await fileNode(t)
  const size = 65537
  const f = await shareRandom(t, size, a)
  const p = await verifiedPeer(t, a.node.address)
  const cases = [
    { offset: 0, length: 40960, want: 4096 },
    { offset: 4096, length: 100, want: 100 },
    { offset: 61440, length: 4096, want: 4096 },
    { offset: 65536, length: 4096, want: 1 },
    { offset: 65537, length: 4096, want: 0 },
    { offset: 1_000_000, length: 4096, want: 0 },
  ]
  for (const c of cases) {
    await p.sendEchoing([{ PleaseSendContent: { id: f.id, offset: c.offset, length: c.length } }])
    const got = await p.waitFor('Content', (b) => b.offset === c.offset)
    const text = p.all('Content').find((x) => x.body.offset === c.offset)!.text
    assert.match(text, /"eof":65537/, 'eof on the wire')
    const b64 = got.base64 as string
    assert.equal(b64.length % 4, 0, 'padded base64')
    const data = Buffer.from(b64, 'base64')
    assert.equal(data.length, c.want, `offset ${c.offset} length ${c.length}`)
    assert.ok(data.equals(f.bytes.subarray(c.offset, c.offset + c.want)))
  }
})

test('plain file names in shared/ are served as the reference node serves them', async (t) => {
  const a = await fileNode(t)
  await writeFile(join(a.dir, 'shared', 'hello.txt'), 'hello, cjp2p\n')
  const p = await verifiedPeer(t, a.node.address)
  await p.sendEchoing([{ PleaseSendContent: { id: 'hello.txt', offset: 0, length: 4096 } }])
  const c = await p.waitFor('Content', (b) => b.id === 'hello.txt')
  assert.equal(Buffer.from(c.base64 as string, 'base64').toString(), 'hello, cjp2p\n')
  assert.equal(c.eof, 13)
})

test('unknown ids get nothing, or hints to known holders; a file still downloading gets hints, 3 at most to strangers', async (t) => {
  const a = await fileNode(t)
  const p = await verifiedPeer(t, a.node.address)
  const unknown = 'ab'.repeat(32)
  await settle(p, [{ PleaseSendContent: { id: unknown, offset: 0, length: 4096 } }], 'u1')
  assert.equal(p.all('MaybeTheyHaveSome').length + p.all('Content').length, 0)

  const router = FileRouter.of(a.node)
  router.holders.add(unknown, '127.0.0.3:24254')
  await p.sendEchoing([{ PleaseSendContent: { id: unknown, offset: 0, length: 4096 } }])
  const hint = await p.waitFor('MaybeTheyHaveSome')
  assert.deepEqual(hint, { id: unknown, peers: ['127.0.0.3:24254'] })

  const partial = 'cd'.repeat(32)
  const suppliers = Array.from({ length: 10 }, (_, i) => `10.0.1.${i + 1}:24254`)
  const release = router.register(partial, { content() {}, hints() {}, suppliers: () => suppliers })
  t.after(release)
  await p.sendEchoing([{ PleaseSendContent: { id: partial, offset: 0, length: 4096 } }])
  const h2 = await p.waitFor('MaybeTheyHaveSome', (b) => b.id === partial)
  assert.deepEqual(h2.peers, suppliers)
  const stranger = await RawPeer.open(t, a.node.address)
  await stranger.send([{ PleaseSendContent: { id: partial, offset: 0, length: 4096 } }])
  const h3 = await stranger.waitFor('MaybeTheyHaveSome')
  assert.ok((h3.peers as string[]).length <= 3)
})

test('served content is counted as file traffic', async (t) => {
  const kinds: TrafficKind[] = []
  const a = await fileNode(t, { metrics: { ...noMetrics, datagramSent: (kind) => { kinds.push(kind) } } })
  const f = await shareRandom(t, 5000, a)
  const p = await verifiedPeer(t, a.node.address)
  await p.sendEchoing([{ PleaseSendContent: { id: f.id, offset: 0, length: 4096 } }])
  await p.waitFor('Content')
  assert.ok(kinds.includes('file'))
  assert.equal(a.server.counters.served, 1)
  assert.equal(a.server.counters.bytesServed, 4096)
})
