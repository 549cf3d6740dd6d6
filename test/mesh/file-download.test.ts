import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileNode, fileNodes, shareRandom } from '../helpers/file-swarm.ts'
import type { FileNode } from '../helpers/file-swarm.ts'
import { download } from '../../src/mesh/file-download.ts'
import { isTransferError } from '../../src/mesh/transfer-error.ts'
import { BLOCK_SIZE } from '../../src/mesh/messages.ts'

const MiB = 1024 * 1024

async function assertHas(n: FileNode, id: string, bytes: Buffer): Promise<void> {
  const got = await readFile(join(n.dir, 'shared', id))
  assert.ok(got.equals(bytes), `shared/${id} holds the right bytes`)
}

for (const seeders of [1, 3]) {
  test(`downloads of 1 B, 4096 B, 65537 B and 5 MiB from ${seeders} peer(s)`, async (t) => {
    const nodes = await fileNodes(t, seeders + 1)
    const getter = nodes[seeders]
    const from = nodes.slice(0, seeders)
    for (const size of [1, 4096, 65537, 5 * MiB + 123]) {
      const f = await shareRandom(t, size, ...from)
      const r = await download(getter.node, getter.store, f.id, { peers: from.map((n) => n.node.address) })
      assert.equal(r.size, size)
      assert.equal(r.fetchedBytes, size)
      assert.equal(r.fetchedBlocks, Math.ceil(size / BLOCK_SIZE))
      await assertHas(getter, f.id, f.bytes)
      if (seeders === 3 && size > MiB) assert.ok(r.suppliers.length >= 2, `blocks came from ${r.suppliers.length} peers`)
    }
  })
}

test('an interrupted download resumes: blocks already had are not fetched again', async (t) => {
  const [seeder] = await fileNodes(t, 1)
  // The getter receives at 2 MiB/s, so the abort lands midway.
  const getter = await fileNode(t, { link: { delayMs: 0, loss: 0, bytesPerSecond: 2 * MiB } })
  const size = 3 * MiB
  const f = await shareRandom(t, size, seeder)
  const abort = new AbortController()
  await assert.rejects(
    download(getter.node, getter.store, f.id, {
      peers: [seeder.node.address], signal: abort.signal, progressIntervalMs: 0,
      onProgress: (p) => { if (p.bytes > size / 4) abort.abort() },
    }),
    (err) => isTransferError(err, 'ERR_ABORTED'),
  )
  const servedFirst = seeder.server.counters.served
  const r = await download(getter.node, getter.store, f.id, { peers: [seeder.node.address] })
  const total = Math.ceil(size / BLOCK_SIZE)
  assert.ok(r.resumedBlocks > 0, 'the second run found blocks on disk')
  assert.ok(r.fetchedBlocks < total, `fetched ${r.fetchedBlocks} of ${total} blocks the second time`)
  assert.equal(r.fetchedBlocks + r.resumedBlocks, total)
  assert.ok(seeder.server.counters.served - servedFirst < total, 'the seeder served fewer blocks the second time')
  await assertHas(getter, f.id, f.bytes)
})

test('a peer that vanishes mid-transfer: its blocks go to the others and the download completes', async (t) => {
  const seeders = await fileNodes(t, 3)
  const getter = await fileNode(t, { link: { delayMs: 0, loss: 0, bytesPerSecond: 4 * MiB } })
  const size = 4 * MiB
  const f = await shareRandom(t, size, ...seeders)
  let closed = false
  const r = await download(getter.node, getter.store, f.id, {
    peers: seeders.map((s) => s.node.address), progressIntervalMs: 0,
    onProgress: (p) => { if (!closed && p.bytes > size / 4) { closed = true; void seeders[0].node.close() } },
  })
  assert.ok(closed)
  assert.ok(seeders[0].server.counters.served > 0, 'the vanished peer had served blocks')
  assert.equal(r.size, size)
  await assertHas(getter, f.id, f.bytes)
})

/** A node holding a same-sized garbage file under the id: it serves corrupt bytes for it. */
async function corruptHolder(t: Parameters<typeof fileNode>[0], id: string, size: number): Promise<FileNode> {
  const bad = await fileNode(t)
  await writeFile(join(bad.dir, 'shared', id), randomBytes(size))
  return bad
}

test('a corrupt peer among honest ones: ERR_HASH_MISMATCH, nothing kept, nobody charged; a retry without it succeeds', async (t) => {
  const [a, b, getter] = await fileNodes(t, 3)
  const size = MiB
  const f = await shareRandom(t, size, a, b)
  const bad = await corruptHolder(t, f.id, size)
  const penalties: string[] = []
  getter.node.on('penalised', (addr: string) => penalties.push(addr))
  const peers = [bad.node.address, a.node.address, b.node.address]
  await assert.rejects(download(getter.node, getter.store, f.id, { peers }), (err) => {
    assert.ok(isTransferError(err, 'ERR_HASH_MISMATCH'), String(err))
    assert.match(err.message, /do not hash/)
    return true
  })
  assert.ok(bad.server.counters.served > 0, 'the corrupt peer supplied blocks')
  assert.deepEqual(penalties, [], 'no single peer can be blamed')
  assert.deepEqual((await readdir(join(getter.dir, 'shared'))).filter((n) => n !== 'incoming'), [])
  assert.deepEqual(await readdir(join(getter.dir, 'shared', 'incoming')), [], 'the bad copy is not kept')
  const r = await download(getter.node, getter.store, f.id, { peers, exclude: [bad.node.address] })
  assert.ok(!r.suppliers.includes(bad.node.address))
  await assertHas(getter, f.id, f.bytes)
})

test('a corrupt peer that supplied every block is charged bad_file_block', async (t) => {
  const [getter] = await fileNodes(t, 1)
  const size = 20_000
  const id = (await shareRandom(t, size)).id
  const bad = await corruptHolder(t, id, size)
  const penalties: [string, string][] = []
  getter.node.on('penalised', (addr: string, reason: string) => penalties.push([addr, reason]))
  await assert.rejects(download(getter.node, getter.store, id, { peers: [bad.node.address] }), (err) => isTransferError(err, 'ERR_HASH_MISMATCH'))
  assert.deepEqual(penalties, [[bad.node.address, 'bad_file_block']])
})

test('bad ids, aborts before start and stalls fail with typed errors and leave no timers behind', async (t) => {
  const [getter] = await fileNodes(t, 1)
  await assert.rejects(download(getter.node, getter.store, '../x'), (err) => isTransferError(err, 'ERR_BAD_ID'))
  await assert.rejects(download(getter.node, getter.store, 'stream/ab/cd'), (err) => isTransferError(err, 'ERR_BAD_ID'))
  await assert.rejects(download(getter.node, getter.store, 'ab'.repeat(32), { signal: AbortSignal.abort() }), (err) => isTransferError(err, 'ERR_ABORTED'))
  // Nobody has it: a short stall timeout ends the attempt.
  await assert.rejects(download(getter.node, getter.store, 'cd'.repeat(32), { stallTimeoutMs: 300 }), (err) => isTransferError(err, 'ERR_STALLED'))
})

test('hints: a peer that does not have the file points at one that does, which joins the download', async (t) => {
  const [holder, pointer, getter] = await fileNodes(t, 3)
  const f = await shareRandom(t, 200_000, holder)
  const { FileRouter } = await import('../../src/mesh/file-router.ts')
  FileRouter.of(pointer.node).holders.add(f.id, holder.node.address)
  const r = await download(getter.node, getter.store, f.id, { peers: [pointer.node.address] })
  assert.deepEqual(r.suppliers, [holder.node.address])
  await assertHas(getter, f.id, f.bytes)
})

test('peers that know each other speak our extension get batched requests and multi-block ranges', async (t) => {
  const { CjNode } = await import('../../src/mesh/node.ts')
  const { FileServer } = await import('../../src/mesh/file-server.ts')
  const { UdpTransport } = await import('../../src/mesh/transport.ts')
  const { FileStore } = await import('../../src/store/file-store.ts')
  const { tempDir } = await import('../helpers/file-swarm.ts')
  const made: FileNode[] = []
  for (let i = 0; i < 2; i++) {
    const dir = await tempDir(t)
    const node = new CjNode({ transport: await UdpTransport.bind({ port: 0 }) }, { probeIntervalMs: 60_000, ourDatagramBytes: 60_000 })
    const store = await FileStore.open(dir)
    const server = new FileServer({ node, store }, { ourMaxDataBytes: 40960 })
    t.after(async () => { server.close(); await node.close(); await store.close() })
    made.push({ node, store, server, dir })
  }
  const [seeder, getter] = made
  // As if they had exchanged stream-extension messages before.
  seeder.node.peers.touch(getter.node.address, 'heard').speaksStreams = true
  getter.node.peers.touch(seeder.node.address, 'heard').speaksStreams = true
  const size = 2 * MiB + 5
  const f = await shareRandom(t, size, seeder)
  const r = await download(getter.node, getter.store, f.id, { peers: [seeder.node.address], ourRangeBytes: 40960 })
  assert.ok(r.stats.requests < Math.ceil(size / BLOCK_SIZE) / 4, `${r.stats.requests} requests for ${Math.ceil(size / BLOCK_SIZE)} blocks`)
  await assertHas(getter, f.id, f.bytes)
})
