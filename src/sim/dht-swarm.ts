// Many DHT nodes in one process: real CjNode + Dht instances (the shipped code) over the in-process
// network on virtual time. The DHT tests and `npm run bench:dht` run the same scenario: a swarm
// joins one node at a time through one earlier node, providers announce, random nodes look up
// random ids, then a share of the nodes vanishes at once and the lookups run again.
import { CjNode } from '../mesh/node.ts'
import { Dht } from '../mesh/dht/dht.ts'
import { MemoryNetwork } from '../mesh/link.ts'
import { VirtualTimers, seededRandom } from '../util/timers.ts'

export interface DhtSwarmOptions {
  nodes: number
  /** Ids announced, each by `providersPerId` random nodes. */
  ids: number
  providersPerId: number
  /** Lookups per phase, from random nodes for random announced ids. */
  lookups: number
  /** Share of the nodes (never a provider) that vanish before the second phase. */
  goneShare: number
  /** One-way delay of every path: a round trip is twice this. */
  delayMs: number
  seed: number
}

export interface LookupFigures {
  lookups: number
  found: number
  /** Round trips until the first provider was known: elapsed virtual time over the path's RTT. */
  roundTrips: number[]
  queries: number[]
}

export interface DhtSwarmRun { healthy: LookupFigures; degraded: LookupFigures; tableSizes: number[]; datagrams: number }

interface Member { node: CjNode; dht: Dht; gone: boolean }

export async function runDhtSwarm(o: DhtSwarmOptions): Promise<DhtSwarmRun> {
  const timers = new VirtualTimers({ seed: o.seed })
  const net = new MemoryNetwork({ timers }, { link: { delayMs: o.delayMs, loss: 0 }, seed: o.seed })
  const random = seededRandom(o.seed ^ 0x5eed)
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]
  const members: Member[] = []
  try {
    for (let i = 0; i < o.nodes; i++) {
      const bootstrap = i === 0 ? [] : [pick(members).node.address]
      const node = new CjNode({ transport: net.createTransport(), timers }, { bootstrap, probeIntervalMs: 10_000 })
      // Only the public key's hash matters to the DHT: seeded bytes make the run repeatable.
      const dht = new Dht({ node, key: { publicKeyHex: Buffer.from(Array.from({ length: 32 }, () => Math.floor(random() * 256))).toString('hex') } })
      members.push({ node, dht, gone: false })
      await node.start()
      dht.start()
      // Joins spread over time, as real ones are: each new node's first lookups find a settled swarm.
      await timers.runFor(200)
    }
    await timers.runFor(30_000)
    const ids: Array<{ id: string; providers: Member[] }> = []
    for (let i = 0; i < o.ids; i++) {
      const id = Buffer.from(Array.from({ length: 32 }, () => Math.floor(random() * 256))).toString('hex')
      const providers = new Set<Member>()
      while (providers.size < o.providersPerId) providers.add(pick(members))
      for (const p of providers) p.dht.provide(id)
      ids.push({ id, providers: [...providers] })
    }
    await timers.runFor(30_000)
    const rtt = 2 * o.delayMs
    const phase = async (): Promise<LookupFigures> => {
      const f: LookupFigures = { lookups: 0, found: 0, roundTrips: [], queries: [] }
      const alive = members.filter((m) => !m.gone)
      for (let i = 0; i < o.lookups; i++) {
        const { id, providers } = pick(ids)
        const asker = pick(alive)
        const want = providers.map((p) => p.node.address)
        let done: { providers: string[]; elapsedMs: number; queries: number; closest: unknown[] } | undefined
        void asker.dht.findProviders(id, { want: 1 }).then((r) => { done = r })
        // Let the lookup's first questions leave before the clock moves: runUntil steps 50 ms at a time.
        await new Promise((resolve) => setImmediate(resolve))
        await timers.runUntil(() => done !== undefined, timers.now() + 120_000)
        f.lookups++
        // A node that provides the id itself counts as having found it at once.
        const self = providers.includes(asker)
        if (self || done?.providers.some((a) => want.includes(a))) {
          f.found++
          f.roundTrips.push(self ? 0 : Math.ceil(done!.elapsedMs / rtt))
          f.queries.push(done!.queries)
        }
      }
      return f
    }
    const healthy = await phase()
    const providers = new Set(ids.flatMap((x) => x.providers))
    const candidates = members.filter((m) => !providers.has(m))
    const goneCount = Math.round(o.goneShare * o.nodes)
    for (let i = 0; i < goneCount && candidates.length > 0; i++) {
      const m = candidates.splice(Math.floor(random() * candidates.length), 1)[0]
      m.gone = true
      m.dht.close()
      await m.node.close()
    }
    const degraded = await phase()
    return { healthy, degraded, tableSizes: members.filter((m) => !m.gone).map((m) => m.dht.table.size), datagrams: net.delivered }
  } finally {
    for (const m of members) { m.dht.close(); await m.node.close() }
    await timers.runFor(5000)
  }
}

export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]
}
