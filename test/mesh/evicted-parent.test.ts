// Issue 17 item 5, on virtual time with the shipped nodes and swarms: the peer table is capped, so
// peers that talk a lot can push our stripe parent's entry out of it. The parent keep-alive tick
// used to look the parent up with a non-null assertion: a TypeError inside an interval, which ends
// the process (here it would throw out of the virtual clock's run and fail the test). A source,
// one viewer with a small peer table, and verified chatterers (they echo the viewer's cookie and
// fake a zero RTT, both things any peer can do) that rank above the parent, so every newcomer
// evicts it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { hostileIo, runUntil, virtualSwarm } from '../helpers/virtual-swarm.ts'
import { RawSocket } from '../../scripts/hostile-peers.ts'

test('a stripe parent evicted from a full peer table does not crash the viewer, which keeps receiving', async (t) => {
  // A slow stream: the source is heard only a few times a second, so chatterers outrank it.
  const sim = await virtualSwarm(t, { bitrateBps: 200_000 })
  const src = sim.source
  const source = src.node
  await runUntil(sim, () => (src.log.head()?.segments ?? 0) >= 3, 10_000, 'source has segments')
  const member = await sim.join([source.address], { maxPeers: 6, heardOnly: true })
  const viewer = member.node
  const log = member.log
  const sw = sim.swarm(member)
  await runUntil(sim, () => sw.status().parents.every((p) => p === source.address), 10_000, 'the source is the parent in every stripe')

  const io = hostileIo(sim)
  const chatter = await Promise.all(Array.from({ length: 12 }, () => RawSocket.open(io)))
  // One handshake (padded: a stranger gets at most twice its bytes back, and the answer carries the
  // cookie); the cookie is derived from the sender's IP, so it serves every chatterer.
  chatter[0].send(viewer.address, [{ PleaseSendPeers: {} }])
  await runUntil(sim, () => chatter[0].verifiedAt(viewer.address), 5000, 'a chatterer got the cookie')
  for (const c of chatter) c.adoptCookie(viewer.address, chatter[0])
  let evictions = 0
  const timer = sim.timers.setInterval(() => {
    if (!viewer.peers.get(source.address)) evictions++
    for (const c of chatter) c.send(viewer.address, [{ ReturnedMessage: sim.timers.now() }, { PleaseSendPeers: {} }])
  }, 10)
  const before = log.verifiedCount()
  await sim.runFor(5000)
  sim.timers.clear(timer)
  for (const c of chatter) c.close()
  t.diagnostic(`samples with the parent evicted: ${evictions}; chunks verified meanwhile: ${log.verifiedCount() - before}; head ${src.log.head()?.chunks}; ${JSON.stringify(sw.status().chunks)} missing ${log.missingChunks(sw.status().startChunk, src.log.head()!.chunks).length}`)
  assert.ok(evictions > 0, 'the chatterers pushed the parent out of the peer table at least once')
  // Still a working viewer: the stream kept arriving and the tick is still running.
  // 200 kb/s is 1.5 chunks a second: 5 s of it is 7, less the ones still in flight.
  assert.ok(log.verifiedCount() - before >= 4, 'chunks kept arriving while the parent entry came and went')
  const at = log.verifiedCount()
  await runUntil(sim, () => log.verifiedCount() > at + 3, 10_000, 'the viewer still receives after the attack')
})
