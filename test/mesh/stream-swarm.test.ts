import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createNodes, until } from '../helpers/swarm.ts'
import { SyntheticSource, tempDir } from '../helpers/stream-fixture.ts'
import { StreamRegistry } from '../../src/mesh/stream-registry.ts'
import { StreamLog } from '../../src/store/stream-log.ts'

test('a chain of viewers: the third is fed only by other viewers, and the source uploads about one copy', async (t) => {
  const src = await SyntheticSource.create(t)
  const nodes = await createNodes(t, 5)
  for (const n of nodes) await n.start()
  const regs = nodes.map((n) => new StreamRegistry(n))
  t.after(() => Promise.all(regs.map((r) => r.close())))
  regs[0].add(src.log)
  src.start()
  await until(() => (src.log.head()?.segments ?? 0) >= 5, 8000, 'five segments')
  const logs: StreamLog[] = []
  for (let i = 1; i < nodes.length; i++) {
    const log = await StreamLog.openReplica(await tempDir(t), src.log.id)
    t.after(() => log.close())
    logs.push(log)
    // viewer i knows only viewer i-1 (the first knows the source)
    nodes[i].peers.touch(nodes[i - 1].address, 'configured')
    nodes[i].probe()
    regs[i].add(log, { bootstrap: [nodes[i - 1].address] })
  }
  await new Promise((r) => setTimeout(r, 6000))
  src.stop()
  const head = src.log.head()!
  for (const [i, log] of logs.entries()) {
    const sw = regs[i + 1].get(src.log.id)!
    const st = sw.status()
    assert.ok(st.startChunk > 0, `viewer ${i + 1} joined at the live edge, not at byte 0`)
    await until(() => log.missingChunks(st.startChunk, head.chunks).length === 0, 8000, `viewer ${i + 1} complete`)
  }
  const s = regs[0].get(src.log.id)!.status()
  assert.ok(s.copiesUploaded < 1.5, `source uploaded ${s.copiesUploaded.toFixed(2)} copies`)
  t.diagnostic(`source copies ${s.copiesUploaded.toFixed(3)}; viewer delays ${logs.map((_, i) => regs[i + 1].get(src.log.id)!.status().delayMs.p99).join(',')} ms p99`)
})
