// The source's rescue: a viewer that asks it again and again for a chunk it was pointed away from
// gets it (ASKS_BEFORE_SOURCE_SERVES asks), because the swarm could not supply it. Unbounded, a
// subtree that every chunk of a stripe fails to reach (a weak viewer at its top, before it knows its
// uplink) made the source feed each of its viewers that stripe chunk by chunk: 7.97 of 10.19 copies
// in the uneven-uplink row at seed 4 (issue 12, docs/SCHEDULER.md session 11). Here the askers are
// bare nodes asking as the repair planner does past its holders, every 100 ms (REFUSED_RETRY_MS),
// for every recent chunk of one stripe: what the source gives them is bounded, in all and per asker.
// On virtual time.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { runUntil, virtualSwarm } from '../helpers/virtual-swarm.ts'
import type { VirtualSwarm } from '../../src/sim/virtual-swarm.ts'
import { CjNode } from '../../src/mesh/node.ts'
import type { Message } from '../../src/mesh/messages.ts'
import { SOURCE_RESCUE_ASKER_SHARE, SOURCE_RESCUE_BUDGET, SOURCE_RESCUE_BURST_BYTES, stripeOf } from '../../src/mesh/stream-policy.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'

const ASKERS = 8
/** How far back the askers ask: the chunks a viewer still wants urgently (URGENT_MS and a margin). */
const RECENT_MS = 2500
const STRIPE = 1

/** Four honest viewers, then ASKERS bare nodes (classic peers: one block an answer) asking the
 * source every 100 ms, for 20 s, for the chunks `wanted` names: what the source and the askers did. */
async function askTheSource(t: TestContext, wanted: (log: VirtualSwarm['source']['log'], now: number) => number[]) {
  const sim = await virtualSwarm(t, { bitrateBps: 2_000_000, link: { delayMs: 25, loss: 0 } })
  const src = sim.source
  await runUntil(sim, () => (src.log.head()?.segments ?? 0) >= 4, 10_000, 'source has segments')
  // Honest viewers: the source's children, whom it points the askers to.
  const viewers = []
  for (let k = 0; k < 4; k++) viewers.push(await sim.join())
  await sim.runFor(3000)

  const askers: CjNode[] = []
  for (let k = 0; k < ASKERS; k++) {
    const a = new CjNode({ transport: sim.net.createTransport(), timers: sim.timers }, { probeIntervalMs: 10_000 })
    await a.start()
    askers.push(a)
  }
  const got = new Map<string, number>()
  for (const a of askers) a.handle('Content', (m) => { if (m.id === sim.id) got.set(a.address, (got.get(a.address) ?? 0) + m.data.length) })
  const ask = sim.timers.setInterval(() => {
    const msgs: Message[] = wanted(src.log, sim.timers.now()).map((n) => ({ type: 'PleaseSendContent', id: sim.id, offset: n * CHUNK_SIZE, length: CHUNK_SIZE }))
    for (const a of askers) if (msgs.length) a.send(src.node.address, msgs)
  }, 100)
  const before = sim.swarm(src).status()
  await sim.runFor(20_000)
  sim.timers.clear(ask)
  for (const a of askers) await a.close()
  const st = sim.swarm(src).status()
  return {
    sim, viewers, got, before, st,
    /** What the rescue served: the "asked again" rule and start-up chunks (counted apart) share one allowance. */
    rescued: (st.uploadedBy['pull-asked-again'] ?? 0) + (st.uploadedBy['pull-startup'] ?? 0),
    allowance: st.producedBytes * SOURCE_RESCUE_BUDGET + SOURCE_RESCUE_BURST_BYTES,
  }
}

/** The chunks of STRIPE published in the last RECENT_MS. */
function recentOfStripe(log: VirtualSwarm['source']['log'], now: number): number[] {
  const out: number[] = []
  for (let n = log.head()!.chunks - 1; n >= 0 && log.chunkRecord(n)!.time > now - RECENT_MS; n--) if (stripeOf(n) === STRIPE) out.push(n)
  return out
}

test('askers that want a whole stripe of the source get at most the rescue\'s allowance, and each asker a share of it', async (t) => {
  const { sim, viewers, got, before, st, rescued, allowance } = await askTheSource(t, recentOfStripe)
  const src = sim.source
  const stripeBytes = (st.producedBytes - before.producedBytes) / 4
  t.diagnostic(`the source rescued ${rescued} B (allowance ${Math.round(allowance)} B); the askers got ${[...got.values()].join(', ')} B of the ${Math.round(stripeBytes)} B of stripe ${STRIPE} published meanwhile; ` +
    `source copies ${(st.uploadedBytes / st.producedBytes).toFixed(3)}`)
  assert.ok(rescued > 0, 'the askers were rescued at all (the rule is in force)')
  // One chunk of slack: the allowance is checked before a chunk is served.
  assert.ok(rescued <= allowance + CHUNK_SIZE, `the source rescued ${rescued} B, beyond its allowance of ${Math.round(allowance)} B`)
  for (const [addr, bytes] of got) {
    assert.ok(bytes <= allowance * SOURCE_RESCUE_ASKER_SHARE + st.producedBytes * 0.05 + 512 * 1024 + CHUNK_SIZE, `asker ${addr} got ${bytes} B: more than its share of the rescue plus the source's whole repair budget`)
  }
  // The viewers kept the stream meanwhile: the askers' asks cost them nothing.
  const head = src.log.head()!.chunks
  for (const v of viewers) {
    const start = sim.swarm(v).status().startChunk
    const published = head - 20
    assert.ok(v.log.missingChunks(start, published).length === 0, `viewer ${v.slot} lacks chunks`)
  }
})

// A classic peer gets one 4 KiB block an answer: the rescue's allowance is of bytes served, so it
// is charged the block, not the chunk (charged the chunk, such askers had a quarter of what the
// allowance grants). Here every asker also asks for the chunks out before it came (start-up
// chunks, served at the same fifth ask out of the same allowance): the allowance still bounds it all.
test('classic askers are charged the blocks they are rescued with, and start-up asks stay within the same allowance', async (t) => {
  const { got, st, rescued, allowance } = await askTheSource(t, (log, now) => {
    const old: number[] = []
    // The oldest chunks the source holds of the stripe, published before any asker came.
    for (let n = log.floor; n < log.head()!.chunks && old.length < 12; n++) if (stripeOf(n) === STRIPE && log.hasChunk(n)) old.push(n)
    return [...old, ...recentOfStripe(log, now)]
  })
  t.diagnostic(`the source rescued ${rescued} B (asked again ${st.uploadedBy['pull-asked-again'] ?? 0} B, start-up ${st.uploadedBy['pull-startup'] ?? 0} B; allowance ${Math.round(allowance)} B); the askers got ${[...got.values()].join(', ')} B`)
  assert.ok(rescued <= allowance + CHUNK_SIZE, `the source rescued ${rescued} B, beyond its allowance of ${Math.round(allowance)} B`)
  for (const [addr, bytes] of got) {
    assert.ok(bytes <= allowance * SOURCE_RESCUE_ASKER_SHARE + st.producedBytes * 0.05 + 512 * 1024 + CHUNK_SIZE, `asker ${addr} got ${bytes} B: more than its share of the rescue plus the source's whole repair budget`)
  }
  // Eight askers asking all the time spend the whole allowance (each may take a quarter): charged
  // a whole chunk for each 4 KiB block, they got about a quarter of it.
  assert.ok(rescued >= allowance * 0.75, `the rescue served ${rescued} B of an allowance of ${Math.round(allowance)} B: charged more than it served`)
})
