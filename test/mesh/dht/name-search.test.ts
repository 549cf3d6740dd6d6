// Names and search across real nodes: six Runtimes in this process, each on its own UDP socket on
// loopback, joined through the DHT. The sharer announces the words of its file's name, then stops;
// a searcher that only knows a node far down the chain (and never met the sharer) still finds the
// file by a word of its name, with its id, size and provider. `list` asks one node what it shares.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { createSocket } from 'node:dgram'
import { join } from 'node:path'
import { Runtime } from '../../../src/runtime.ts'
import { silentLogger } from '../../../src/util/logger.ts'
import { tempDir, until } from '../../helpers/cli-process.ts'

test('search finds a shared file by a word of its name from a node that never talked to the sharer', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-names-')
  // Hellos only at start (the probe interval is longer than the test): nodes meet through the DHT.
  const opts = (name: string, peers: string[] = []) => ({ dir: join(dir, name), httpPort: null, peers, logger: silentLogger, processMetrics: false, probeIntervalMs: 600_000 })
  const nodes: Runtime[] = []
  t.after(() => Promise.all(nodes.map((n) => n.close())))
  const first = await Runtime.start(opts('n0'))
  nodes.push(first)
  for (let i = 1; i < 5; i++) nodes.push(await Runtime.start(opts(`n${i}`, [nodes[i - 1].udpAddress])))
  // Every node learns the others by walking towards its own id.
  await until('the DHT tables to fill', 30_000, () => nodes.every((n) => n.dht.table.size >= 3))

  const sharer = await Runtime.start(opts('sharer', [first.udpAddress]))
  const content = randomBytes(50_000)
  const src = join(dir, 'Holiday Film 2026.mp4')
  await writeFile(src, content)
  const id = await sharer.files.share(src)
  await sharer.provideFile(id)
  const sharerAddr = sharer.udpAddress
  await until('the name\'s words to be stored by others', 60_000,
    () => nodes.reduce((n, r) => n + (r.names.counters.named.stored ?? 0), 0) >= 3 * 3)
  // The sharer leaves: whatever the searcher finds, it found in other nodes' keyword stores.
  await sharer.close()

  const searcher = await Runtime.start(opts('searcher', [nodes[4].udpAddress]))
  nodes.push(searcher)
  await until('the searcher to be proven by its one peer', 10_000, () => searcher.node.peers.get(nodes[4].udpAddress)?.verified)
  const hits = await searcher.names.search('film')
  assert.equal(hits.length, 1, `one file named with "film": ${JSON.stringify(hits)}`)
  assert.equal(hits[0].id, id)
  assert.equal(hits[0].name, 'Holiday Film 2026.mp4')
  assert.equal(hits[0].size, content.length)
  assert.equal(hits[0].providers, 1, 'one provider announced it')
  assert.deepEqual(hits[0].peers, [sharerAddr], 'the provider is the sharer')
  assert.equal(searcher.node.peers.get(sharerAddr)?.lastHeard ?? 0, 0, 'the searcher never heard from the sharer')

  // Every word must be in the name; case and punctuation do not matter.
  assert.equal((await searcher.names.search('HOLIDAY, film!')).length, 1)
  assert.equal((await searcher.names.search('holiday winter')).length, 0, 'a word the name lacks filters it out')
  assert.equal((await searcher.names.search('nothing')).length, 0)
  assert.equal(searcher.node.peers.get(sharerAddr)?.lastHeard ?? 0, 0, 'still never heard from the sharer')
})

test('list pages through what a peer shares: id, name, size', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-list-')
  const opts = (name: string, peers: string[] = []) => ({ dir: join(dir, name), httpPort: null, peers, logger: silentLogger, processMetrics: false, probeIntervalMs: 600_000 })
  const a = await Runtime.start(opts('a'))
  t.after(() => a.close())
  // More than one page (16 items, 4 KiB) of long names.
  const want = new Map<string, { name: string; size: number }>()
  for (let i = 0; i < 40; i++) {
    const name = `clip ${String(i).padStart(2, '0')} ${'x'.repeat(150)}.bin`
    const path = join(dir, name)
    await writeFile(path, randomBytes(100 + i))
    const id = await a.files.share(path)
    await a.provideFile(id)
    want.set(id, { name, size: 100 + i })
  }
  const b = await Runtime.start(opts('b', [a.udpAddress]))
  t.after(() => b.close())
  await until('b to be proven by a', 10_000, () => b.node.peers.get(a.udpAddress)?.verified)
  const got = await b.names.list(a.udpAddress)
  assert.equal(got.length, 40)
  for (const it of got) assert.deepEqual({ name: it.name, size: it.size }, want.get(it.id), it.id)
  await assert.rejects(b.names.list('127.0.0.1:9'), /did not answer a listing/)
})

test('keyword announcements: refused from an unproven address and for a word the name lacks', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-named-guard-')
  const opts = (name: string, peers: string[] = []) => ({ dir: join(dir, name), httpPort: null, peers, logger: silentLogger, processMetrics: false, probeIntervalMs: 600_000 })
  const a = await Runtime.start(opts('a'))
  t.after(() => a.close())
  const [host, port] = [a.udpAddress.slice(0, a.udpAddress.lastIndexOf(':')), Number(a.udpAddress.slice(a.udpAddress.lastIndexOf(':') + 1))]
  const raw = createSocket('udp4')
  await new Promise<void>((r) => raw.bind(0, '127.0.0.1', r))
  t.after(() => raw.close())
  const item = { word: 'film', id: 'f'.repeat(64), name: 'a film.mp4', size: 5 }
  raw.send(JSON.stringify([{ IHaveNamed: item }]), port, host)
  await until('the unproven announcement to be counted', 10_000, () => a.names.counters.named.unverified === 1)

  const b = await Runtime.start(opts('b', [a.udpAddress]))
  t.after(() => b.close())
  await until('b and a to prove each other', 10_000, () => b.node.peers.get(a.udpAddress)?.verified && a.node.peers.get(b.udpAddress)?.verified)
  b.node.send(a.udpAddress, [{ type: 'IHaveNamed', ...item, word: 'popular' }])
  await until('the squatting announcement to be refused', 10_000, () => a.names.counters.named.not_in_name === 1)
  b.node.send(a.udpAddress, [{ type: 'IHaveNamed', ...item }])
  await until('the honest announcement to be stored', 10_000, () => a.names.counters.named.stored === 1)
  assert.deepEqual(a.names.keywords.get('film').map((i) => i.peers), [[b.udpAddress]], 'only the proven, honest announcement is held')
  assert.deepEqual(a.names.keywords.get('popular'), [])
})
