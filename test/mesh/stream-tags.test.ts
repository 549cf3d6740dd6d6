// The registry's stream tags: a child's telemetry names its stream by the number its parent's grant
// gave (some 100 bytes less than the stream id in every summary). A tag routes to the stream that
// holds it and to no other, a tag no stream holds reaches nothing, and a closed stream's tag is not
// handed to the next stream at once (a summary sent under it as it closed would count there).
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { CjNode } from '../../src/mesh/node.ts'
import { MemoryNetwork } from '../../src/mesh/link.ts'
import { StreamRegistry } from '../../src/mesh/stream-registry.ts'
import type { StreamSwarm } from '../../src/mesh/stream/stream-swarm.ts'
import { GRANT_BY_TAG, OUR_EXTENSION, type MessageOf } from '../../src/mesh/messages.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { ChunkPool, memoryStorage } from '../../src/store/memory-stream-files.ts'
import { StreamLog } from '../../src/store/stream-log.ts'
import { VirtualTimers } from '../../src/util/timers.ts'

/** `n` started nodes on one virtual network, a registry on the first, and `carry` to add a source
 * stream to it; all closed after the test. */
async function registryAmong(n: number, t: TestContext) {
  const timers = new VirtualTimers({ seed: 1, start: Date.UTC(2026, 0, 1) })
  const net = new MemoryNetwork({ timers }, { seed: 1 })
  const storage = memoryStorage(new ChunkPool())
  const nodes = Array.from({ length: n }, () => new CjNode({ transport: net.createTransport(), timers }))
  for (const x of nodes) await x.start()
  const reg = new StreamRegistry(nodes[0])
  const logs: StreamLog[] = []
  const carry = async (name: string) => {
    const log = await StreamLog.createSource(`mem/${name}`, generateStreamKey(), name, { format: 'ts', targetDuration: 1, clock: () => timers.now(), storage })
    logs.push(log)
    return reg.add(log) as StreamSwarm
  }
  t.after(async () => {
    await reg.close()
    for (const x of nodes) await x.close()
    for (const log of logs) await log.close()
  })
  return { timers, nodes, reg, carry }
}

test('a summary under a tag reaches the stream its receiver gave that tag, and only it', async (t) => {
  const { timers, nodes: [node, child], reg, carry: source } = await registryAmong(2, t)
  const [a, b] = [await source('a'), await source('b')]
  assert.notEqual(a.audienceTag, b.audienceTag)
  const got = new Map<StreamSwarm, number>()
  for (const s of [a, b]) s.onAudience = () => { got.set(s, (got.get(s) ?? 0) + 1) }
  const summary = (tag: number): MessageOf<'HereIsMyAudience'> => ({ type: 'HereIsMyAudience', tag, audience: { viewers: 1, byDepth: [1] }, counts: true })
  child.send(node.address, [summary(b.audienceTag)])
  await timers.runFor(500)
  assert.deepEqual([got.get(a) ?? 0, got.get(b) ?? 0], [0, 1])
  // A tag no stream of this node holds.
  child.send(node.address, [summary(Math.max(a.audienceTag, b.audienceTag) + 100)])
  await timers.runFor(500)
  assert.deepEqual([got.get(a) ?? 0, got.get(b) ?? 0], [0, 1])
  // b closes; the next stream gets a tag of its own, and b's reaches nothing.
  await reg.remove(b.id)
  const c = await source('c')
  assert.ok(![a.audienceTag, b.audienceTag].includes(c.audienceTag), `c took tag ${c.audienceTag}`)
  c.onAudience = () => { got.set(c, (got.get(c) ?? 0) + 1) }
  child.send(node.address, [summary(b.audienceTag)])
  await timers.runFor(500)
  assert.deepEqual([got.get(a) ?? 0, got.get(b) ?? 0, got.get(c) ?? 0], [0, 1, 0])
})

test("a grant by its tag alone renews the grant that gave the tag, from that parent only", async (t) => {
  const { timers, nodes: [node, parent, other], carry } = await registryAmong(3, t)
  const [a, b] = [await carry('a'), await carry('b')]
  // b holds the parent's grant with its tag 7 (the parent's number for b, not ours).
  b.holdsAudienceGrant = (from, tag) => from === parent.address && tag === 7
  a.holdsAudienceGrant = () => false
  const got: Array<[string, number]> = []
  for (const s of [a, b]) s.onAudienceGrant = (m) => { got.push([s === a ? 'a' : 'b', m.bytesPerSecond]) }
  const grant = (bytesPerSecond: number, tag: number): MessageOf<'TellMeYourAudienceAtMost'> => ({ type: 'TellMeYourAudienceAtMost', tag, bytesPerSecond })
  parent.send(node.address, [grant(61, 7)])
  // The same tag from another peer, and another tag from the parent: neither renews anything.
  other.send(node.address, [grant(500, 7)])
  parent.send(node.address, [grant(900, 8)])
  await timers.runFor(500)
  assert.deepEqual(got, [['b', 61]])
})

test('a peer takes grants by the tag alone only if its IAlsoSpeak says so (builds before it drop them)', async (t) => {
  const { timers, nodes: [node, child] } = await registryAmong(2, t)
  const speak = (extensions: string[]) => child.send(node.address, [{ type: 'IAlsoSpeak', extensions, maxDatagramBytes: 1200 }])
  // Ours say so.
  const caps = child.capabilities(node.address)
  assert.ok(caps.type === 'IAlsoSpeak')
  speak(caps.extensions)
  await timers.runFor(500)
  assert.equal(node.peers.get(child.address)?.grantsByTag, true)
  speak([OUR_EXTENSION])
  await timers.runFor(500)
  assert.equal(node.peers.get(child.address)?.grantsByTag, false)
  speak([OUR_EXTENSION, GRANT_BY_TAG])
  await timers.runFor(500)
  assert.equal(node.peers.get(child.address)?.grantsByTag, true)
})
