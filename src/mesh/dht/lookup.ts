// One iterative Kademlia lookup: we ask, they answer with nodes nearer the target, we ask those.
// Nothing is forwarded on anyone's behalf (no recursion), so a lookup costs only the asker, and a
// node that lies can only waste the asker's queries, bounded by the shortlist.
//
// The shortlist holds the nearest candidates seen (bounded); up to `concurrency` queries are in
// flight among its `width` nearest; the lookup ends when those `width` have all answered or failed,
// or early once enough providers are known. Candidates with no id yet (bootstrap addresses) sort
// after every known id, so they are asked only while nothing better is known.
import { closer } from './node-id.ts'

export interface Candidate { addr: string; id: Uint8Array | null }
export interface Answer { nodes: Candidate[]; providers: string[]; id: Uint8Array | null }
/** Sends one query; resolves with the answer, or null when none came in time. */
export type Ask = (c: Candidate) => Promise<Answer | null>

export interface LookupInit {
  /** Nearest answered nodes wanted (Kademlia's k). */
  width: number
  /** Queries in flight at once (Kademlia's alpha). */
  concurrency: number
  /** Stop as soon as this many providers are known (providers lookups). */
  wantProviders?: number
}

export interface LookupResult {
  /** The nearest nodes that answered, nearest first. */
  closest: Candidate[]
  providers: string[]
  queries: number
  failures: number
  /** The longest chain of queries, each asked because of the one before's answer. */
  depth: number
}

/** Candidates kept: a few widths, so answers full of far-away or dead nodes cannot grow it. */
const SHORTLIST_WIDTHS = 4
/** Queries one lookup may make: answers that keep naming new (dead or lying) nodes nearer the
 * target would otherwise keep it going forever. */
export const MAX_LOOKUP_QUERIES = 96

interface Entry extends Candidate { state: 'new' | 'asked' | 'answered' | 'failed'; depth: number }

export function lookup(target: Uint8Array, seeds: Candidate[], ask: Ask, init: LookupInit): Promise<LookupResult> {
  const list: Entry[] = []
  const providers = new Set<string>()
  let inFlight = 0
  let queries = 0
  let failures = 0
  let depth = 0
  let finished = false
  const order = (a: Entry, b: Entry) => (a.id && b.id ? closer(target, a.id, b.id) : a.id ? -1 : b.id ? 1 : 0)
  /** Every address asked or listed once: never listed again (bounded by the queries made). */
  const seen = new Set<string>()
  const offer = (c: Candidate, d: number) => {
    if (seen.has(c.addr)) {
      const have = list.find((e) => e.addr === c.addr)
      if (have && !have.id && c.id && have.state === 'new') have.id = c.id
      return
    }
    seen.add(c.addr)
    list.push({ ...c, state: 'new', depth: d })
    list.sort(order)
    const cap = init.width * SHORTLIST_WIDTHS
    // Failed entries go first (seen keeps them from coming back), then the farthest not yet asked;
    // asked ones stay so their answers still find their entry.
    for (let i = list.length - 1; i >= 0 && list.length > cap; i--) if (list[i].state === 'failed') list.splice(i, 1)
    for (let i = list.length - 1; i >= 0 && list.length > cap; i--) if (list[i].state === 'new') list.splice(i, 1)
  }
  for (const s of seeds) offer(s, 1)
  return new Promise((resolve) => {
    const finish = () => {
      if (finished) return
      finished = true
      const closest = list.filter((e) => e.state === 'answered').slice(0, init.width).map(({ addr, id }) => ({ addr, id }))
      resolve({ closest, providers: [...providers], queries, failures, depth })
    }
    const pump = () => {
      if (finished) return
      if (init.wantProviders !== undefined && providers.size >= init.wantProviders) return finish()
      let live = 0
      for (const e of list) {
        if (live >= init.width) break
        if (e.state === 'failed') continue
        live++
        if (e.state !== 'new' || inFlight >= init.concurrency || queries >= MAX_LOOKUP_QUERIES) continue
        e.state = 'asked'
        inFlight++
        queries++
        void ask(e).then((a) => {
          inFlight--
          if (a) {
            e.state = 'answered'
            if (a.id) e.id = a.id
            depth = Math.max(depth, e.depth)
            for (const p of a.providers) providers.add(p)
            for (const n of a.nodes) offer(n, e.depth + 1)
            list.sort(order)
          } else {
            e.state = 'failed'
            failures++
          }
          pump()
        }, () => { inFlight--; e.state = 'failed'; failures++; pump() })
      }
      if (inFlight === 0) finish()
    }
    pump()
  })
}
