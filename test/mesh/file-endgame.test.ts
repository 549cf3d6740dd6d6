// Endgame over real UDP on loopback: with one slow provider among fast ones, the last blocks are
// asked of a second, idle provider, and when a copy arrives first the slow provider's request is
// withdrawn (its window is free at once) instead of being waited for.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileNode, fileNodes, shareRandom } from '../helpers/file-swarm.ts'
import { download } from '../../src/mesh/file-download.ts'
import { BLOCK_SIZE } from '../../src/mesh/messages.ts'

test('endgame: copies of a slow provider\'s last requests go to an idle one, and arrivals cancel the slow copies', async (t) => {
  const [fast] = await fileNodes(t, 1)
  // What the slow provider receives is held 60 ms: its answers come that much late.
  const slow = await fileNode(t, { link: { delayMs: 60, loss: 0, bytesPerSecond: 0 } })
  const getter = await fileNode(t)
  const size = 4 * 1024 * 1024
  for (const id of ['sha256', 'blake3'] as const) {
    const f = await shareRandom(t, size, fast, slow)
    const want = id === 'sha256' ? f.id : f.blake3
    const r = await download(getter.node, getter.store, want, { peers: [slow.node.address, fast.node.address] })
    assert.ok((await readFile(join(getter.dir, 'shared', want))).equals(f.bytes))
    t.diagnostic(`${id}: ${Math.ceil(size / BLOCK_SIZE)} blocks, requests ${r.stats.requests}, cancelled ${r.stats.cancelled}, duplicates ${r.stats.duplicates}, timeouts ${r.stats.timeouts}, suppliers ${r.suppliers.length}, ${r.durationMs} ms`)
    assert.ok(r.suppliers.includes(slow.node.address), 'the slow provider supplied blocks')
    assert.ok(r.stats.cancelled >= 1, `${r.stats.cancelled} endgame copies cancelled on arrival`)
    assert.equal(r.fetchedBlocks, Math.ceil(size / BLOCK_SIZE))
  }
})
