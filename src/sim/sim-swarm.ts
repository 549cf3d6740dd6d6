// The swarm on a virtual clock: the same decision functions as the live StreamSwarm
// (decideChild, rankParents, planRepairs, interiorStripe, stripeOf, playbackDeadline,
// sourceMayServe) driven by chunk-level messages over SimNetwork. What differs from the live node
// is only the plumbing: no JSON, no signatures, no cookie round trip (counted as one extra RTT
// of join time in the live swarm, nothing else).
import { STRIPES } from '../mesh/messages.ts'
import {
  CATCHUP_CHUNKS, CHILD_EXPIRY_MS, PARENT_TIMEOUT_MS, RESUBSCRIBE_MS, SOURCE_REPAIR_BUDGET,
  decideChild, isReceiving, mayServePull, planRepairs, playbackDeadline, rankParents, sourceMayServe, stripeOf,
} from '../mesh/stream-policy.ts'
import type { MissingChunk } from '../mesh/stream-policy.ts'
import type { EventQueue } from '../util/event-queue.ts'
import type { SimNetwork } from './sim-network.ts'

/** The live swarm's constants that are not scheduling policy, mirrored here. */
export const SIM = { TICK_MS: 50, JOIN_ANSWER_MS: 500, START_SEGMENTS_BACK: 3, PLAYOUT_DELAY_MS: 3000, LIVE_WINDOW_CHUNKS: 512, MAX_HOLDERS: 256, CONTROL_BYTES: 120, VERIFY_MS: 0.5, HEAD_RETRY_MS: 300 }

export const addrOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:24254`

interface Join { candidates: string[]; asked?: string; askedAt: number; tried: Set<string> }

export class SimNode {
  alive = false
  joinAt = 0
  leftAt = Infinity
  startChunk = -1
  maxKnown = 0
  joined: { at: number; startPublishedAt: number } | null = null
  parents: (string | undefined)[] = new Array(STRIPES).fill(undefined)
  parentPushAt = new Array<number>(STRIPES).fill(0)
  subscribedAt = new Array<number>(STRIPES).fill(0)
  joins: (Join | undefined)[] = new Array(STRIPES).fill(undefined)
  children: Set<string>[] = Array.from({ length: STRIPES }, () => new Set())
  childSeen = new Map<string, number>()
  holders = new Map<string, number>()
  inFlight = new Map<number, { peer: string; at: number; tries: number }>()
  knownSince = new Map<number, number>()
  missing = new Set<number>()
  /** Arrival time of each chunk (ms), or -1. */
  recvAt: Float32Array
  received = 0
  fromSource = 0
  duplicates = 0
  produced = 0
  pulled = 0
  pullWindow = { at: 0, served: 0 }

  constructor(readonly i: number, readonly addr: string, readonly isSource: boolean, chunks: number) {
    this.recvAt = new Float32Array(chunks).fill(-1)
  }

  has(n: number): boolean { return this.recvAt[n] >= 0 }

  noteHolder(addr: string, now: number): void {
    if (addr === this.addr) return
    if (this.holders.size >= SIM.MAX_HOLDERS && !this.holders.has(addr)) {
      const first = this.holders.keys().next().value as string
      this.holders.delete(first)
    }
    this.holders.delete(addr)
    this.holders.set(addr, now)
  }

  /** Most recently heard first, as the live holderList. */
  holderList(exclude: string): string[] {
    const out: string[] = []
    for (const a of this.holders.keys()) if (a !== exclude) out.push(a)
    return out.reverse()
  }
}

export class SimSwarm {
  readonly nodes: SimNode[]
  private byAddr = new Map<string, number>()
  /** Publish time of each chunk. */
  readonly publishedAt: Float64Array

  constructor(private q: EventQueue, private net: SimNetwork, viewers: number, readonly chunks: number, readonly chunkBytes: number, readonly chunkMs: number, readonly chunksPerSegment: number) {
    this.nodes = []
    for (let i = 0; i <= viewers; i++) {
      const n = new SimNode(i, addrOf(i), i === 0, chunks)
      this.nodes.push(n)
      this.byAddr.set(n.addr, i)
    }
    this.publishedAt = new Float64Array(chunks).fill(-1)
  }

  get source(): SimNode { return this.nodes[0] }
  private node(addr: string): SimNode | undefined { const i = this.byAddr.get(addr); return i === undefined ? undefined : this.nodes[i] }

  // ---- the source ----

  startSource(): void {
    const s = this.source
    s.alive = true
    s.startChunk = 0
    for (let n = 0; n < this.chunks; n++) {
      this.q.at(n * this.chunkMs, () => {
        this.publishedAt[n] = this.q.now()
        s.recvAt[n] = this.q.now()
        s.maxKnown = n + 1
        s.produced += this.chunkBytes
        this.push(s, n)
      })
    }
    this.scheduleTick(s)
  }

  // ---- messages ----

  private control(from: SimNode, to: string, fn: (t: SimNode) => void): void {
    const t = this.node(to)
    if (!t) return
    this.net.send(from.i, SIM.CONTROL_BYTES, () => { if (t.alive) fn(t) })
  }

  private sendChunk(from: SimNode, to: string, n: number): void {
    const t = this.node(to)
    if (!t) return
    this.net.send(from.i, this.chunkBytes, () => { if (t.alive) this.q.after(SIM.VERIFY_MS, () => { if (t.alive) this.onChunk(t, from, n) }) })
  }

  private push(p: SimNode, n: number): void {
    for (const c of p.children[stripeOf(n)]) this.sendChunk(p, c, n)
  }

  private onChunk(t: SimNode, from: SimNode, n: number): void {
    const now = this.q.now()
    t.noteHolder(from.addr, now)
    const s = stripeOf(n)
    if (t.parents[s] === from.addr) t.parentPushAt[s] = now
    if (t.has(n)) { t.duplicates++; return }
    if (t.startChunk >= 0 && n < Math.max(t.startChunk, t.maxKnown - SIM.LIVE_WINDOW_CHUNKS)) return
    t.recvAt[n] = now
    t.received++
    if (from.isSource) t.fromSource++
    t.missing.delete(n)
    t.inFlight.delete(n)
    t.knownSince.delete(n)
    this.learnEdge(t, n + 1)
    // As the live swarm: only chunks that came down the stripe are pushed on.
    if (t.parents[s] === from.addr) this.push(t, n)
  }

  private learnEdge(t: SimNode, top: number): void {
    if (t.startChunk < 0) { t.maxKnown = Math.max(t.maxKnown, top); return }
    for (let k = Math.max(t.maxKnown, t.startChunk); k < top; k++) if (!t.has(k)) t.missing.add(k)
    t.maxKnown = Math.max(t.maxKnown, top)
  }

  private onSubscribe(p: SimNode, from: SimNode, stripe: number, fromChunk: number): void {
    const now = this.q.now()
    const d = decideChild({ isSource: p.isSource, self: p.addr, children: p.children, receiving: (s) => isReceiving(p.parents[s] !== undefined, p.parentPushAt[s], this.q.now()) }, { from: from.addr, stripe }, p.holderList(from.addr))
    if (!d.accept) {
      this.control(p, from.addr, (t) => this.onRedirect(t, p, stripe, d.tryInstead))
      return
    }
    const isNew = !p.children[stripe].has(from.addr)
    p.children[stripe].add(from.addr)
    p.childSeen.set(from.addr, now)
    this.control(p, from.addr, (t) => this.onAccepted(t, p, stripe))
    if (d.evict) {
      const evicted = d.evict
      p.children[stripe].delete(evicted)
      this.control(p, evicted, (t) => this.onRedirect(t, p, stripe, [from.addr]))
    }
    if (!isNew) return
    for (let n = Math.max(fromChunk, p.maxKnown - CATCHUP_CHUNKS); n < p.maxKnown; n++) if (stripeOf(n) === stripe && p.has(n)) this.sendChunk(p, from.addr, n)
  }

  private onAccepted(t: SimNode, p: SimNode, stripe: number): void {
    const now = this.q.now()
    if (t.parents[stripe] === p.addr) { t.subscribedAt[stripe] = now; return }
    const j = t.joins[stripe]
    if (!j || j.asked !== p.addr) { this.control(t, p.addr, (x) => x.children[stripe].delete(t.addr)); return }
    t.parents[stripe] = p.addr
    t.parentPushAt[stripe] = now
    t.subscribedAt[stripe] = now
    t.joins[stripe] = undefined
    t.noteHolder(p.addr, now)
  }

  private onRedirect(t: SimNode, p: SimNode, stripe: number, peers: string[]): void {
    const now = this.q.now()
    for (const a of peers) t.noteHolder(a, now)
    if (t.parents[stripe] === p.addr && !t.isSource) {
      // Pushed down, as the live swarm: move under the node that took our place.
      t.parents[stripe] = undefined
      t.joins[stripe] = { candidates: peers.filter((a) => a !== t.addr), askedAt: 0, tried: new Set([p.addr]) }
      this.advanceJoin(t, stripe)
      return
    }
    const j = t.joins[stripe]
    if (!j || j.asked !== p.addr) return
    const fresh = peers.filter((a) => !j.tried.has(a) && a !== t.addr)
    j.candidates = [...fresh, ...j.candidates.filter((c) => !fresh.includes(c))]
    j.asked = undefined
    this.advanceJoin(t, stripe)
  }

  private onPull(p: SimNode, from: SimNode, n: number): void {
    const now = this.q.now()
    if (now - p.pullWindow.at >= 1000) p.pullWindow = { at: now, served: 0 }
    const ok = p.isSource ? sourceMayServe(p.pulled, p.produced) : mayServePull(p.pullWindow.served)
    if (p.has(n) && ok) { p.pullWindow.served++; p.pulled += this.chunkBytes; this.sendChunk(p, from.addr, n); return }
    const peers = [...p.children[stripeOf(n)], ...p.holderList(from.addr)].filter((a) => a !== from.addr).slice(0, 8)
    this.control(p, from.addr, (t) => { for (const a of peers) t.noteHolder(a, this.q.now()) })
  }

  // ---- a viewer's life ----

  join(v: SimNode, bootstrap: string[]): void {
    const now = this.q.now()
    v.alive = true
    v.joinAt = now
    for (const b of bootstrap) v.noteHolder(b, now)
    this.askHead(v, bootstrap, 0)
  }

  /** The head and the newest segment records come back from the peer asked (one RTT); as the live
   * swarm, the question is asked again (of the next bootstrap peer) until an answer arrives, since
   * either datagram may be lost. */
  private askHead(v: SimNode, bootstrap: string[], attempt: number): void {
    if (!v.alive || v.startChunk >= 0) return
    this.control(v, bootstrap[attempt % bootstrap.length], (p) => this.control(p, v.addr, (t) => {
      if (t.startChunk >= 0) return
      const top = p.maxKnown
      const start = Math.max(0, Math.floor(top / this.chunksPerSegment) - SIM.START_SEGMENTS_BACK) * this.chunksPerSegment
      t.startChunk = start
      t.joined = { at: this.q.now(), startPublishedAt: this.publishedAt[start] }
      this.learnEdge(t, top)
      this.scheduleTick(t)
    }))
    this.q.after(SIM.HEAD_RETRY_MS, () => this.askHead(v, bootstrap, attempt + 1))
  }

  leave(v: SimNode): void {
    v.alive = false
    v.leftAt = this.q.now()
  }

  private scheduleTick(v: SimNode): void {
    this.q.after(SIM.TICK_MS * (0.5 + Math.random()), () => { if (v.alive) { this.tick(v); this.scheduleTick(v) } })
  }

  private tick(v: SimNode): void {
    const now = this.q.now()
    for (const set of v.children) for (const c of set) if (now - (v.childSeen.get(c) ?? 0) > CHILD_EXPIRY_MS) { set.delete(c); v.childSeen.delete(c) }
    if (v.isSource) return
    this.keepParents(v, now)
    if (v.missing.size) this.repair(v, now)
  }

  private keepParents(v: SimNode, now: number): void {
    for (let s = 0; s < STRIPES; s++) {
      const p = v.parents[s]
      if (p) {
        if (now - v.parentPushAt[s] > PARENT_TIMEOUT_MS) {
          this.control(v, p, (x) => x.children[s].delete(v.addr))
          v.parents[s] = undefined
        } else if (now - v.subscribedAt[s] > RESUBSCRIBE_MS) {
          v.subscribedAt[s] = now
          this.control(v, p, (x) => this.onSubscribe(x, v, s, v.maxKnown))
        }
        continue
      }
      let j = v.joins[s]
      if (!j) {
        const cands = v.holderList('').map((addr) => ({ addr, rttMs: this.net.rttMs(), isSource: addr === this.source.addr }))
        j = v.joins[s] = { candidates: rankParents(s, cands), askedAt: 0, tried: new Set() }
      }
      if (!j.asked || now - j.askedAt > SIM.JOIN_ANSWER_MS) { j.asked = undefined; this.advanceJoin(v, s) }
    }
  }

  private advanceJoin(v: SimNode, s: number): void {
    const j = v.joins[s]
    if (!j) return
    const next = j.candidates.shift()
    if (!next) { v.joins[s] = undefined; return }
    j.tried.add(next)
    j.asked = next
    j.askedAt = this.q.now()
    let from = v.maxKnown
    for (const n of v.missing) if (stripeOf(n) === s && n < from && n >= v.maxKnown - CATCHUP_CHUNKS) from = n
    this.control(v, next, (p) => this.onSubscribe(p, v, s, from))
  }

  private repair(v: SimNode, now: number): void {
    const floor = Math.max(v.startChunk, v.maxKnown - SIM.LIVE_WINDOW_CHUNKS)
    const missing: MissingChunk[] = []
    for (const n of v.missing) {
      if (n < floor) { v.missing.delete(n); continue }
      let since = v.knownSince.get(n)
      if (since === undefined) { since = now; v.knownSince.set(n, now) }
      missing.push({ n, knownSince: since, deadline: playbackDeadline(this.publishedAt[n], SIM.PLAYOUT_DELAY_MS, v.joined) })
    }
    const others = v.parents.filter((p): p is string => p !== undefined)
    const rest = v.holderList('').filter((a) => a !== this.source.addr && !others.includes(a)).slice(0, 6)
    const reqs = planRepairs({
      now, missing, inFlight: v.inFlight,
      holders: (n) => { const first = v.parents[stripeOf(n)]; return [...(first ? [first] : []), ...others.filter((o) => o !== first), ...rest] },
      source: this.source.addr,
      sourceBudgetChunks: Math.max(0, Math.floor(v.received * SOURCE_REPAIR_BUDGET + 2 - v.fromSource)),
      rttMs: () => this.net.rttMs(),
    })
    for (const r of reqs) {
      const prev = v.inFlight.get(r.n)
      v.inFlight.set(r.n, { peer: r.peer, at: now, tries: (prev?.tries ?? 0) + 1 })
      this.control(v, r.peer, (p) => this.onPull(p, v, r.n))
    }
  }
}
