// Fan-out regression: 8 viewers on real UDP (loopback) watch a 2 Mb/s synthetic stream for 20 s.
// The source must upload about one copy (asserted with margin: <= 1.5) and every viewer must have
// every chunk published after it joined before that chunk's playback deadline.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createNodes, until } from '../helpers/swarm.ts'
import { SyntheticSource, tempDir } from '../helpers/stream-fixture.ts'
import { StreamRegistry } from '../../src/mesh/stream-registry.ts'
import { PLAYOUT_DELAY_MS } from '../../src/mesh/stream-swarm.ts'
import { StreamLog } from '../../src/store/stream-log.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'

const VIEWERS = 8
const RUN_MS = 20_000
/** A busy 2-core machine delays timers; completeness is judged against a generous deadline. */
const DEADLINE_MS = PLAYOUT_DELAY_MS + 2000

test('8 viewers for 20 s: the source uploads about one copy and every viewer gets every chunk in time', async (t) => {
  const src = await SyntheticSource.create(t, { segmentMs: 1000 })
  const nodes = await createNodes(t, VIEWERS + 1)
  for (const n of nodes) await n.start()
  const regs = nodes.map((n) => new StreamRegistry(n))
  t.after(() => Promise.all(regs.map((r) => r.close())))
  regs[0].add(src.log)
  src.start()
  await until(() => (src.log.head()?.segments ?? 0) >= 3, 10_000, 'three segments')
  const joinedAt: number[] = []
  const arrived: Map<number, number>[] = []
  for (let i = 1; i <= VIEWERS; i++) {
    const log = await StreamLog.openReplica(await tempDir(t), src.log.id)
    t.after(() => log.close())
    const got = new Map<number, number>()
    log.on('chunk', (n: number) => got.set(n, Date.now()))
    arrived.push(got)
    joinedAt.push(Date.now())
    nodes[i].peers.touch(nodes[0].address, 'configured')
    nodes[i].probe()
    regs[i].add(log, { bootstrap: [nodes[0].address] })
    await new Promise((r) => setTimeout(r, 100))
  }
  await new Promise((r) => setTimeout(r, RUN_MS))
  src.stop()
  const head = src.log.head()!
  const source = regs[0].get(src.log.id)!.status()
  const firstStart = Math.min(...regs.slice(1).map((r) => r.get(src.log.id)!.status().startChunk))
  assert.ok(firstStart >= 0, 'every viewer joined')
  const streamBytes = (head.chunks - firstStart) * CHUNK_SIZE
  const copies = source.uploadedBytes / streamBytes
  const worst: number[] = []
  for (let v = 0; v < VIEWERS; v++) {
    let due = 0
    let ok = 0
    for (let n = 0; n < head.chunks; n++) {
      const rec = src.log.chunkRecord(n)!
      if (rec.time < joinedAt[v] || rec.time + DEADLINE_MS > Date.now()) continue
      due++
      const at = arrived[v].get(n)
      if (at !== undefined && at - rec.time <= DEADLINE_MS) ok++
    }
    worst.push(due ? ok / due : 0)
  }
  t.diagnostic(`source copies ${copies.toFixed(3)}; completeness per viewer ${worst.map((w) => (w * 100).toFixed(1)).join(', ')} %`)
  assert.ok(copies <= 1.5, `source uploaded ${copies.toFixed(2)} copies`)
  for (const [v, w] of worst.entries()) assert.equal(w, 1, `viewer ${v + 1} had ${(w * 100).toFixed(2)} % of its chunks in time`)
})
