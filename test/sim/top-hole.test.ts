// A push lost between the source and its child in a stripe (issue 12, seventh session): the chunk is
// then missing at every node of the stripe, since every node is below that child.
// - The child is the one node that asks the source for it (first, before going round holders that
//   all lack it), the source serves its own child's repair from a budget of its own, and the repair
//   goes down the stripe: one request, not one per node that found the chunk urgent.
// - When the hole lasts (the source does not answer), the top child's "my feed is late" reaches
//   every level within a link delay each (passed on when it arrives, not on each node's next
//   tick), so nobody below leaves a parent that is only waiting like itself.
// On virtual time, over several seeds (any change drawing from the seeded generator moves a run).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EPOCH, VirtualSwarm, type SwarmMember } from '../../src/sim/virtual-swarm.ts'
import { DEADLINE_MS, LEAD_MS } from '../../src/sim/simulation.ts'
import type { Message, MessageOf } from '../../src/mesh/messages.ts'
import type { Ctx } from '../../src/mesh/node.ts'
import { CHILD_TRIES_AT_SOURCE, stripeOf } from '../../src/mesh/stream-policy.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'

const SEEDS = [1, 2, 3]
const VIEWERS = 30
/** The one-way delay of the simulated links (25 ms) and a margin for the datagram's own time. */
const PER_LEVEL_MS = 40

/** A lossless swarm of VIEWERS joining over 4 s, run to 12 s; the source's child in stripe `seed`
 * mod 4 is `top`. `drop(n)` loses the source's next `count` pushes of that stripe to `top` (their
 * chunk numbers are in `lost`); `asks` records who asked the source for which chunk, and the
 * source answers no ask for a lost chunk while `silent`. */
async function topHole(seed: number, count: number, silent: boolean): Promise<{ sim: VirtualSwarm; present: SwarmMember[]; top: string; stripe: number; lost: number[]; asks: Array<{ from: string; n: number }>; at: number }> {
  const sim = await VirtualSwarm.create({ seed, bitrateBps: 2_000_000, link: { delayMs: 25, loss: 0 }, verifyOncePerProcess: true, handover: true })
  const present: SwarmMember[] = []
  const t0 = EPOCH + LEAD_MS
  for (let k = 0; k < VIEWERS; k++) sim.timers.queue.at(t0 + (4000 * k) / VIEWERS, () => { void sim.join().then((m) => present.push(m)) })
  const at = t0 + 12_000
  await sim.run(at)
  const stripe = seed % 4
  const top = sim.swarm(sim.source).status().children[stripe][0]
  assert.ok(top, `seed ${seed}: the source has a child in stripe ${stripe}`)
  const lost: number[] = []
  const send = sim.source.node.send.bind(sim.source.node)
  sim.source.node.send = (to, msgs, ...rest) => {
    const c = msgs.find((m: Message): m is MessageOf<'Content'> => m.type === 'Content')
    const n = c && Math.floor(c.offset / CHUNK_SIZE)
    if (to === top && lost.length < count && c && !c.repaired && n !== undefined && stripeOf(n) === stripe) { lost.push(n); return 0 }
    return send(to, msgs, ...rest)
  }
  const asks: Array<{ from: string; n: number }> = []
  const swarm = sim.swarm(sim.source)
  const answer = swarm.onContentRequest.bind(swarm)
  swarm.onContentRequest = (m: MessageOf<'PleaseSendContent'>, ctx: Ctx) => {
    const n = Math.floor(m.offset / CHUNK_SIZE)
    if (lost.includes(n)) {
      asks.push({ from: ctx.from, n })
      if (silent) return
    }
    return answer(m, ctx)
  }
  return { sim, present, top, stripe, lost, asks, at }
}

test('a push lost on its way to the source\'s child in a stripe: that child alone asks the source, and every viewer has the chunk in time', async (t) => {
  for (const seed of SEEDS) {
    const { sim, present, top, lost, asks, at } = await topHole(seed, 1, false)
    try {
      await sim.run(at + 5000)
      assert.equal(lost.length, 1, `seed ${seed}: a push was lost`)
      const n = lost[0]
      const askers = new Set(asks.map((a) => a.from))
      const published = sim.source.log.chunkRecord(n)!.time
      const late = present.filter((m) => (new Map(m.recorder.verified).get(n) ?? Infinity) - published > DEADLINE_MS).length
      const served = sim.swarm(sim.source).status().uploadedBy
      t.diagnostic(`seed ${seed}: chunk ${n} asked of the source ${asks.length} times by ${askers.size} nodes (the top child ${askers.has(top) ? 'among them' : 'not among them'}); ${late} of ${present.length} viewers late; the source's repairs of its children ${served['pull-child'] ?? 0} bytes`)
      assert.deepEqual([...askers], [top], `seed ${seed}: only the top child asks the source (asked by ${askers.size})`)
      assert.ok(asks.length <= CHILD_TRIES_AT_SOURCE, `seed ${seed}: ${asks.length} asks`)
      assert.equal(late, 0, `seed ${seed}: ${late} viewers got the chunk late`)
    } finally {
      await sim.close()
    }
  }
})

test('a hole at the top of a stripe that nobody can fill: the top child\'s "late" reaches every level within a link delay each, and nobody below leaves its parent', async (t) => {
  for (const seed of SEEDS) {
    const { sim, present, top, stripe, lost } = await topHole(seed, 2, true)
    try {
      const parentOf = (m: SwarmMember) => sim.swarm(m).status().parents[stripe]
      const before = new Map(present.map((m) => [m, parentOf(m)]))
      // Hops below the top child in the stripe, as the tree stood when the hole began.
      const byAddr = new Map(present.map((m) => [m.node.address, m]))
      const below = (m: SwarmMember): number | undefined => {
        let hops = 0
        for (let p = before.get(m); p !== undefined && p !== null && hops < present.length; p = before.get(byAddr.get(p)!)) {
          hops++
          if (p === top) return hops
          if (!byAddr.has(p)) return undefined
        }
        return undefined
      }
      // When each node first told its children in the stripe that its feed is late.
      const toldAt = new Map<string, number>()
      for (const m of present) {
        const send = m.node.send.bind(m.node)
        m.node.send = (to, msgs, ...rest) => {
          if (!toldAt.has(m.node.address) && msgs.some((x: Message) => x.type === 'IWillKeepSendingYou' && x.late === true && x.stripe === stripe)) toldAt.set(m.node.address, sim.timers.now())
          return send(to, msgs, ...rest)
        }
      }
      const moved = new Set<SwarmMember>()
      for (let k = 1; k <= 40; k++) {
        await sim.run(sim.timers.now() + 50)
        for (const m of present) if (m.node.address !== top && parentOf(m) !== before.get(m)) moved.add(m)
      }
      const first = toldAt.get(top)
      assert.equal(lost.length, 2, `seed ${seed}: two pushes were lost`)
      assert.ok(first !== undefined, `seed ${seed}: the top child told its children its feed is late`)
      // Passed on as it arrives: one link delay (25 ms) a level, and a little for the datagram.
      const slow = present.flatMap((m) => {
        const hops = below(m)
        const at = toldAt.get(m.node.address)
        return hops !== undefined && at !== undefined && at - first > hops * PER_LEVEL_MS ? [`${hops} below after ${at - first} ms`] : []
      })
      const relays = present.filter((m) => below(m) !== undefined && toldAt.has(m.node.address)).length
      t.diagnostic(`seed ${seed}: chunks ${lost.join(', ')} lost at the top of stripe ${stripe}; ${relays} relays below passed the word on, ${slow.length} slower than ${PER_LEVEL_MS} ms a level${slow.length ? ` (${slow.join('; ')})` : ''}; ${moved.size} of ${present.length - 1} viewers below changed parents`)
      assert.ok(relays > 0, `seed ${seed}: relays below the top child passed the word on`)
      assert.deepEqual(slow, [], `seed ${seed}: the word came down slower than a link delay a level`)
      assert.equal(moved.size, 0, `seed ${seed}: ${moved.size} viewers below the top child left their parents`)
    } finally {
      await sim.close()
    }
  }
})
