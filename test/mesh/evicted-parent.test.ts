// Issue 17 item 5: the peer table is capped, so peers that talk a lot can push our stripe parent's
// entry out of it. The parent keep-alive tick used to look the parent up with a non-null assertion:
// an uncaught TypeError inside an interval, which ends the process. Real UDP: a source, one viewer
// with a small peer table, and verified chatterers (they echo the viewer's cookie and fake a zero
// RTT, both things any peer can do) that rank above the parent, so every newcomer evicts it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createNodes, until } from '../helpers/swarm.ts'
import { RawPeer } from '../helpers/raw-peer.ts'
import { SyntheticSource, tempDir } from '../helpers/stream-fixture.ts'
import { StreamRegistry } from '../../src/mesh/stream-registry.ts'
import { StreamLog } from '../../src/store/stream-log.ts'

test('a stripe parent evicted from a full peer table does not crash the viewer, which keeps receiving', async (t) => {
  // A slow stream: the source is heard only a few times a second, so chatterers outrank it.
  const src = await SyntheticSource.create(t, { bitrateBps: 200_000, segmentMs: 500 })
  const [source] = await createNodes(t, 1)
  const [viewer] = await createNodes(t, 1, { maxPeers: 6 })
  for (const n of [source, viewer]) await n.start()
  const regs = [new StreamRegistry(source), new StreamRegistry(viewer)]
  t.after(() => Promise.all(regs.map((r) => r.close())))
  regs[0].add(src.log)
  src.start()
  await until(() => (src.log.head()?.segments ?? 0) >= 3, 10_000, 'source has segments')
  const log = await StreamLog.openReplica(await tempDir(t), src.log.id)
  t.after(() => log.close())
  viewer.peers.touch(source.address, 'heard')
  const sw = regs[1].add(log, { bootstrap: [source.address] })
  await until(() => sw.status().parents.every((p) => p === source.address), 10_000, 'the source is the parent in every stripe')

  let crashed: unknown
  const onCrash = (err: unknown) => { crashed = err }
  process.on('uncaughtException', onCrash)
  t.after(() => { process.off('uncaughtException', onCrash) })

  const chatter = await Promise.all(Array.from({ length: 12 }, () => RawPeer.open(t, viewer.address)))
  // The cookie is derived from the source IP, so one handshake serves every socket on this host.
  // (Padded: a stranger gets at most twice its bytes back, and the answer carries the cookie.)
  await chatter[0].send([{ Padding: 'x'.repeat(300) }, { PleaseSendPeers: {} }])
  await until(() => chatter[0].theirCookie !== undefined, 5000, 'a chatterer got the cookie')
  for (const c of chatter) c.theirCookie = chatter[0].theirCookie
  let evictions = 0
  const timer = setInterval(() => {
    if (!viewer.peers.get(source.address)) evictions++
    for (const c of chatter) void c.sendEchoing([{ ReturnedMessage: Date.now() }, { PleaseSendPeers: {} }])
  }, 10)
  t.after(() => clearInterval(timer))
  const before = log.verifiedCount()
  await new Promise((r) => setTimeout(r, 5000))
  clearInterval(timer)
  t.diagnostic(`samples with the parent evicted: ${evictions}; chunks verified meanwhile: ${log.verifiedCount() - before}; head ${src.log.head()?.chunks}; ${JSON.stringify(sw.status().chunks)} missing ${log.missingChunks(sw.status().startChunk, src.log.head()!.chunks).length}`)
  assert.ok(evictions > 0, 'the chatterers pushed the parent out of the peer table at least once')
  assert.equal(crashed, undefined, `no uncaught exception: ${String(crashed)}`)
  // Still a working viewer: the stream kept arriving and the tick is still running.
  // 200 kb/s is 1.5 chunks a second: 5 s of it is 7, less the ones still in flight.
  assert.ok(log.verifiedCount() - before >= 4, 'chunks kept arriving while the parent entry came and went')
  const at = log.verifiedCount()
  await until(() => log.verifiedCount() > at + 3, 10_000, 'the viewer still receives after the attack')
})
