// The source's repair budget is charged when a pull is answered, not when its bytes come off the
// disk: pulls that arrive while earlier reads are still pending must see the earlier charges.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ChunkServer, type ChunkServerComponents } from '../../../src/mesh/stream/chunk-server.ts'
import { SourceBudget } from '../../../src/mesh/stream/source-budget.ts'
import type { SwarmContext } from '../../../src/mesh/stream/swarm-context.ts'
import type { SwarmStats } from '../../../src/mesh/stream/swarm-stats.ts'
import type { Ctx } from '../../../src/mesh/node.ts'
import type { Message } from '../../../src/mesh/messages.ts'
import { SOURCE_BURST_BYTES, SOURCE_REPAIR_BUDGET } from '../../../src/mesh/stream-policy.ts'
import { CHUNK_SIZE } from '../../../src/store/stream-types.ts'

const CHUNKS = 400

/** A source whose reads wait until `release()`: a slow disk, or a burst within one read's time. */
function slowSource(readsFail = false) {
  const pending: Array<() => void> = []
  const disk = { fail: readsFail, reads: 0 }
  const log = {
    chunkRecord: (n: number) => (n < CHUNKS ? { n, length: CHUNK_SIZE, time: 0 } : null),
    hasChunk: (n: number) => n < CHUNKS,
    head: () => null,
    read: (_offset: number, length: number) => new Promise<Buffer>((resolve, reject) => {
      disk.reads++
      const fail = disk.fail
      pending.push(() => (fail ? reject(new Error('EIO')) : resolve(Buffer.alloc(length))))
    }),
  }
  const totals = { producedBytes: 0 }
  const served = { bytes: 0 }
  const stats = { totals, uploaded: (_from: string, bytes: number) => { served.bytes += bytes } } as unknown as SwarmStats
  const context = { id: 'stream', isSource: true, role: 'source', log, node: { timers: { now: () => 0 } } } as unknown as SwarmContext
  const budget = new SourceBudget({ context, stats })
  const components = {
    context, budget, stats,
    // Someone to point a refused pull to (with nobody, the source serves whatever its budget).
    holders: { list: () => ['10.0.1.1:9'] },
    children: { of: () => new Set<string>(), spareBytesPerSecond: () => undefined },
    tracker: { hops: () => 0 },
  } as unknown as ChunkServerComponents
  budget.childTaken()
  totals.producedBytes = 8 * 1024 * 1024
  const release = async () => { while (pending.length) pending.shift()!(); await new Promise((r) => setImmediate(r)) }
  return { server: new ChunkServer(components), served, totals, release, budget, disk }
}

/** A datagram's context; an unverified one has the room the 2x rule leaves a 100-byte ask. */
function ctx(from: string, replies: Message[], verified = true): Ctx {
  return { from, verified, peer: { speaksStreams: true, firstSeen: 0 } as Ctx['peer'], reply: (m: Message) => { replies.push(m) }, room: () => (verified ? Infinity : 200), asksEcho: false, echo: () => {} }
}

test('a burst of pulls during one slow read spends the source budget once, not once per pull', async () => {
  const { server, served, totals, release } = slowSource()
  const replies: Message[] = []
  const answers: Array<Promise<void> | void> = []
  // 40 askers, each pulling 10 different chunks, all before any read returns.
  for (let a = 0; a < 40; a++) {
    for (let i = 0; i < 10; i++) {
      const n = a * 10 + i
      answers.push(server.onContentRequest({ type: 'PleaseSendContent', id: 'stream', offset: n * CHUNK_SIZE, length: CHUNK_SIZE } as never, ctx(`10.0.0.${a}:9`, replies)))
    }
  }
  await release()
  await Promise.all(answers)
  const allowance = totals.producedBytes * SOURCE_REPAIR_BUDGET + SOURCE_BURST_BYTES
  assert.ok(served.bytes > 0, 'the source serves pulls within its budget')
  assert.ok(served.bytes <= allowance + CHUNK_SIZE, `served ${served.bytes} bytes to pulls against an allowance of ${allowance} (+ one chunk)`)
})

test('a pull whose read fails gives its charge back', async () => {
  const { server, release, budget } = slowSource(true)
  const replies: Message[] = []
  const answers: Array<Promise<void> | void> = []
  for (let n = 0; n < 100; n++) {
    answers.push(server.onContentRequest({ type: 'PleaseSendContent', id: 'stream', offset: n * CHUNK_SIZE, length: CHUNK_SIZE } as never, ctx('10.0.0.1:9', replies)))
  }
  await release()
  await Promise.all(answers)
  // Every read failed: nothing was served, so the whole budget is still there for the next pull.
  assert.equal(budget.pullCause(200, { from: '10.0.0.2:9', verified: true, bytes: CHUNK_SIZE }), 'pull')
})

test('a rescue whose read fails gives its charge back to the rescue and to its asker', async () => {
  const { server, release, budget, disk } = slowSource()
  const replies: Message[] = []
  const ask = (from: string, n: number) => server.onContentRequest({ type: 'PleaseSendContent', id: 'stream', offset: n * CHUNK_SIZE, length: CHUNK_SIZE } as never, ctx(from, replies))
  // Another asker spends the regular budget: from here the source serves only rescues.
  for (let n = 0; n < 100; n++) await Promise.all([ask('10.0.0.1:9', n), release()])
  assert.equal(budget.pullCause(399, { from: '10.0.0.3:9', verified: true, bytes: CHUNK_SIZE }), null, 'the regular budget is spent')
  // Then the disk fails. One asker asks for 100 chunks, each until the source rescues it (the fifth
  // ask): an asker's share of the rescue is 39 chunks here, so without the refunds the source
  // stopped trying after that many, and pointed it elsewhere for the rest.
  disk.fail = true
  const before = disk.reads
  for (let n = 100; n < 200; n++) {
    for (let i = 0; i < 5; i++) await Promise.all([ask('10.0.0.2:9', n), release()])
  }
  assert.equal(disk.reads - before, 100, 'each chunk was rescued (read) once, its charge given back when the read failed')
})

test('asks from unverified (maybe spoofed) addresses spend nothing: their answer would not pass the 2x rule', async () => {
  const { server, served, release, budget } = slowSource()
  const replies: Message[] = []
  // 300 asks, as if from 300 spoofed addresses, for chunks and for nothing (length 0).
  for (let a = 0; a < 300; a++) {
    const from = `10.0.${a >> 8}.${a & 255}:9`
    const answers = [0, CHUNK_SIZE].map((length) => server.onContentRequest({ type: 'PleaseSendContent', id: 'stream', offset: a * CHUNK_SIZE, length } as never, ctx(from, replies, false)))
    await Promise.all([...answers, release()])
  }
  assert.equal(served.bytes, 0)
  assert.ok(!replies.some((m) => m.type === 'Content'), 'no data queued (the node would drop it)')
  assert.equal(budget.pullCause(399, { from: '10.0.9.9:9', verified: true, bytes: CHUNK_SIZE }), 'pull', 'the budget is whole for a real viewer')
})

test('asks for nothing (length 0) spend no rescue', async () => {
  const { server, release, budget, disk } = slowSource()
  const replies: Message[] = []
  const ask = (n: number, length: number) => server.onContentRequest({ type: 'PleaseSendContent', id: 'stream', offset: n * CHUNK_SIZE, length } as never, ctx('10.0.0.2:9', replies))
  for (let n = 0; n < 100; n++) await Promise.all([ask(n, CHUNK_SIZE), release()])
  assert.equal(budget.pullCause(399, { from: '10.0.0.3:9', verified: true, bytes: CHUNK_SIZE }), null, 'the regular budget is spent')
  // 300 chunks asked for five times each with a length of 0: were they charged as rescues, this
  // asker's share (39 chunks) would be spent.
  for (let n = 100; n < 400; n++) for (let i = 0; i < 5; i++) await ask(n, 0)
  const before = disk.reads
  for (let i = 0; i < 5; i++) await Promise.all([ask(399, CHUNK_SIZE), release()])
  assert.equal(disk.reads - before, 1, 'its real ask is rescued at the fifth time')
})
