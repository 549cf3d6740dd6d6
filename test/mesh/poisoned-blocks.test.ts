// Issue 17 item 2, on virtual time with the shipped nodes and swarms: a verified peer sends junk for
// blocks 1-3 of every chunk about to be published, claiming to be the source, to mix it with the
// stripe parents' honest blocks. Each block is checked against its signed BLAKE3 on arrival, so
// the junk is charged to the poisoner alone: it must be banned within a few chunks, no chunk may
// fail, no honest node may be charged, and the viewers' players must never run dry.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { hostileIo, runUntil, virtualSwarm } from '../helpers/virtual-swarm.ts'
import { SegmentGaps } from '../../scripts/segment-gaps.ts'
import { Poisoner } from '../../scripts/hostile-peers.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import type { CjNode } from '../../src/mesh/node.ts'

/** Segments of this length (the virtual swarm's), three of them buffered: the player stalls after 3 s without a new one. */
const SEGMENT_MS = 1000
const PLAYER_BUFFER_MS = 3 * SEGMENT_MS

test('a poisoner mixing junk blocks into the parents\' chunks is banned within a few chunks and spoils none', async (t) => {
  const sim = await virtualSwarm(t, { bitrateBps: 1_000_000, link: { delayMs: 1, jitterMs: 1, loss: 0 } })
  const src = sim.source
  const id = sim.id
  await runUntil(sim, () => (src.log.head()?.segments ?? 0) >= 3, 10_000, 'source has segments')
  const first = await sim.join()
  const others = [first]
  for (let i = 0; i < 3; i++) others.push(await sim.join([src.node.address, first.node.address]))
  const nodes = [src, ...others].map((m) => m.node)
  const swarms = others.map((m) => sim.swarm(m))
  await runUntil(sim, () => swarms.every((s) => s.status().verifiedChunks > 8), 15_000, 'every viewer receives')

  // Per target: chunks the poisoner got junk into before the target banned it, and whether any
  // chunk failed as a whole (a chunk-level failure charges nobody: that was the bug).
  const touched = new Map<CjNode, Set<number>>(others.map((m) => [m.node, new Set()]))
  const failed = new Map<CjNode, number>(others.map((m) => [m.node, 0]))
  const poisoner = await Poisoner.open(id, others.map((m) => m.node.address), hostileIo(sim))
  for (const [i, s] of swarms.entries()) {
    const n = others[i].node
    // The charge that bans comes just before the bad-block event of the chunk that caused it.
    let banned = false
    let last = false
    n.on('penalised', (addr: string, _reason: string, didBan: boolean) => { if (addr === poisoner.address && didBan) banned = true })
    s.on('bad-block', (chunk: number, from: string) => {
      if (from !== poisoner.address || last) return
      touched.get(n)!.add(chunk)
      last = banned
    })
    s.on('rejected', () => failed.set(n, failed.get(n)! + 1))
  }
  const gaps = others.map((m, i) => new SegmentGaps(m.log, () => swarms[i].status().startChunk, 20, sim.timers))
  // The edge polled every 20 ms: at every 40 ms its junk came for chunks the viewers had whole already
  // once the telemetry climbed each viewer's highest stripe (the datagrams' order moved), got into
  // one chunk per viewer, and was banned nowhere, which would leave the ban untested.
  poisoner.start(20, 3)
  await sim.runFor(8000)
  poisoner.close()
  src.feed.stop()
  for (const g of gaps) g.stop()

  const head = src.log.head()!
  for (const [i, m] of others.entries()) {
    const st = swarms[i].status()
    await runUntil(sim, () => m.log.missingChunks(st.startChunk, head.chunks).length === 0, 15_000, `viewer ${i} complete`)
    for (let c = st.startChunk; c < head.chunks; c++) {
      const len = src.log.chunkRecord(c)!.length
      assert.deepEqual(await m.log.read(c * CHUNK_SIZE, len), await src.log.read(c * CHUNK_SIZE, len), `viewer ${i} chunk ${c}`)
    }
  }
  const banned = (n: CjNode, addr: string) => { const p = n.peers.get(addr); return p !== undefined && n.peers.isBanned(p) }
  t.diagnostic(`junk blocks sent ${poisoner.junkBlocks}; chunks touched before the ban per node: ${others.map((m) => touched.get(m.node)!.size).join(', ')}; chunks failed whole: ${others.map((m) => failed.get(m.node)).join(', ')}; longest segment gap per viewer: ${gaps.map((g) => g.maxGapMs).join(', ')} ms (startup ${gaps.map((g) => g.startupMs).join(', ')} ms) over ${gaps.map((g) => g.segments).join(', ')} segments`)
  for (const { node: n } of others) {
    // A ban takes 5 bad blocks (2 chunks of junk). Junk that arrives for a chunk already complete is
    // ignored as a duplicate, uncharged: at a node that stays ahead of the poisoner (a child of the
    // source) it may get junk into only one chunk, spoil nothing, and stay unbanned there.
    if (touched.get(n)!.size >= 2) assert.ok(banned(n, poisoner.address), `the poisoner is banned at ${n.address}`)
    assert.ok(touched.get(n)!.size <= 3, `banned within a few chunks at ${n.address}: ${touched.get(n)!.size}`)
    assert.equal(failed.get(n), 0, `no chunk failed as a whole at ${n.address}`)
    for (const h of nodes) {
      const p = n.peers.get(h.address)
      assert.ok(!p || (p.penalty === 0 && !n.peers.isBanned(p)), `honest ${h.address} charged at ${n.address}: ${p?.penalty}`)
    }
  }
  assert.ok(others.some((m) => banned(m.node, poisoner.address)), 'the poisoner is banned where its junk mixed in')
  for (const [i, g] of gaps.entries()) assert.ok(g.segments > 4 && g.maxGapMs < PLAYER_BUFFER_MS, `viewer ${i} waited ${g.maxGapMs} ms for a segment (buffer ${PLAYER_BUFFER_MS} ms) over ${g.segments} segments`)
})
