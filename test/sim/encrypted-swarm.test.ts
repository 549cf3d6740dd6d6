// Encryption between our peers must change what the wire carries, not what the swarm decides:
// on virtual time (where the crypto takes no time) the same swarm, seed and lossy link, once with
// every node sealing (src/mesh/secure/, real Noise handshakes and sealed frames over JSON bytes)
// and once plain, must play as completely and receive no more duplicates. The NAT laboratory
// showed encrypted swarms with more duplicates; this separates the protocol from the machine.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { publishedBefore, runUntil, virtualSwarm } from '../helpers/virtual-swarm.ts'
import type { VirtualSwarm } from '../../src/sim/virtual-swarm.ts'

const VIEWERS = 10
const LINK = { delayMs: 20, jitterMs: 4, loss: 0.02 }

interface Run { duplicateBytes: number; receivedBytes: number; holes: number; sealed: number; opened: number; plainDrops: number; sessions: number }

async function run(sim: VirtualSwarm): Promise<Run> {
  const src = sim.source
  await runUntil(sim, () => (src.log.head()?.segments ?? 0) >= 3, 20_000, 'source has segments')
  const viewers = []
  // Arriving over two seconds, as people do: the join is where the duplicates were seen.
  for (let i = 0; i < VIEWERS; i++) { viewers.push(await sim.join()); await sim.runFor(200) }
  await sim.runFor(20_000)
  const upTo = publishedBefore(sim, 3000)
  const r: Run = { duplicateBytes: 0, receivedBytes: 0, holes: 0, sealed: 0, opened: 0, plainDrops: 0, sessions: 0 }
  for (const v of viewers) {
    const st = sim.status(v)!
    r.duplicateBytes += st.duplicateBytes
    r.receivedBytes += st.receivedBytes
    r.holes += v.log.missingChunks(st.startChunk, upTo).length
    r.sealed += v.secure?.counters.sealed ?? 0
    r.opened += v.secure?.counters.opened ?? 0
    r.sessions += v.secure?.counters.established ?? 0
    const d = v.node.counters.dropped
    r.plainDrops += (d.plain_from_sealed ?? 0) + (d.bad_seal ?? 0) + (d.unknown_session ?? 0)
  }
  return r
}

test('on virtual time an encrypted swarm plays as fully as a plain one and receives no more duplicates', async (t) => {
  for (const seed of [1, 2]) {
    const plain = await run(await virtualSwarm(t, { seed, link: LINK, bitrateBps: 1_000_000 }))
    const sealed = await run(await virtualSwarm(t, { seed, link: LINK, bitrateBps: 1_000_000, encrypt: true }))
    const mb = (b: number) => (b / 1e6).toFixed(2)
    t.diagnostic(`seed ${seed}: duplicates plain ${mb(plain.duplicateBytes)} MB, encrypted ${mb(sealed.duplicateBytes)} MB; received ${mb(plain.receivedBytes)} / ${mb(sealed.receivedBytes)} MB; holes ${plain.holes} / ${sealed.holes}; sealed ${sealed.sealed}, opened ${sealed.opened}, sessions ${sealed.sessions}`)
    // It really was encrypted: sessions with the source and each other, and the stream sealed.
    assert.ok(sealed.sessions >= VIEWERS, `every viewer established sessions (${sealed.sessions})`)
    assert.ok(sealed.opened > 1000, `viewers opened sealed datagrams (${sealed.opened})`)
    assert.equal(plain.sealed, 0, 'the plain swarm sealed nothing')
    assert.equal(sealed.plainDrops, 0, 'nothing refused or lost at the switch to sealed frames')
    assert.equal(sealed.holes, plain.holes, 'as complete as the plain swarm')
    // Generous: extra handshake datagrams draw from the seeded link, so the two runs are not the
    // same run; 1.4x is what the lab showed and would fail here.
    assert.ok(sealed.duplicateBytes <= plain.duplicateBytes * 1.25 + 200_000,
      `encrypted duplicates ${mb(sealed.duplicateBytes)} MB against plain ${mb(plain.duplicateBytes)} MB`)
  }
})
