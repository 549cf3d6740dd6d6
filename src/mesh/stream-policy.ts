// Swarm scheduling decisions for live streams, as pure functions of plain state: who may become our
// child in a stripe, which peers a joiner should try, which missing chunks to pull from whom.
// The live swarm (src/mesh/stream/) and the simulator (scripts/simulate.ts) both call these, so what
// the benchmark measures at 50 viewers is what the simulator extrapolates to 10,000.
//
// Design (see docs/SCHEDULER.md): a SplitStream-style striped push tree with pull repair.
// - Chunk n travels in stripe n % STRIPES. Each stripe has its own tree rooted at the source.
// - The source accepts SOURCE_FANOUT children per stripe, so it uploads each chunk about once.
// - Each viewer is "interior" in one stripe, where it accepts up to FANOUT children, and a leaf in
//   the others (SPARE_SLOTS children in all, used only when interior nodes are full or missing, as
//   in small swarms; one per other stripe when nobody known is interior in the stripe asked for). A full parent pushes a leaf child down under an interior newcomer, so interior
//   nodes fill the top of each tree. Upload per viewer is about 1 copy on average (FANOUT / STRIPES
//   = 1.5 at most for an interior node, plus spares), and depth grows like log_FANOUT(N).
// - Parents push each verified chunk to their children at once (no per-chunk request, no "have"
//   round trip): one hop costs one one-way delay plus verification.
// - Anything a push did not deliver (loss, a vanished parent, a late join) is pulled, earliest
//   playback deadline first, from the stripe parent, then other holders, and from the source only
//   within its small repair budget.
import { STRIPES } from './messages.ts'
import type { NatKind } from './messages.ts'
import { CHUNK_SIZE } from '../store/stream-types.ts'

export const SOURCE_FANOUT = 1
export const FANOUT = STRIPES + 2
export const SPARE_SLOTS = 2
/** Extra children per stripe for peers behind symmetric NATs. Such a peer can only be fed by
 * someone it reached itself, and it relays to nobody, so it takes places of its own and never one
 * in the tree a relay could fill (docs/NAT-LAB.md). */
export const LEAF_SLOTS = 8
/** The source may upload this share of the stream beyond one copy to fill holes nobody else can. */
export const SOURCE_REPAIR_BUDGET = 0.05
/** A stripe parent that pushed nothing for this long, while the stream grew, is replaced. */
export const PARENT_TIMEOUT_MS = 1500
/** Children re-subscribe this often; a parent forgets children silent for CHILD_EXPIRY_MS. */
export const RESUBSCRIBE_MS = 2000
export const CHILD_EXPIRY_MS = 6000
/** A chunk the push should have brought is pulled after this grace (plus a few RTTs). */
export const REPAIR_GRACE_MS = 120
/** Pull requests in flight per peer, in chunks: enough to fill a pipe, not enough to flood one. */
export const REPAIR_WINDOW = 8
/** A pull request unanswered for this long (or 4 RTT, whichever is more) is retried elsewhere. */
export const REPAIR_TIMEOUT_MS = 400
/** A pull answered "I do not have it" is asked of the next holder after this long, not on the next
 * tick: a viewer whose holders all lacked a chunk re-asked it every 50 ms, on every missing chunk,
 * which filled a weak uplink with requests and burnt the tries before the source in a few hundred
 * ms (issue 12: the source's "asked five times" rule was half its upload with uneven uplinks). */
export const REFUSED_RETRY_MS = 100
/** Pulls of an urgent chunk that other holders failed before the source is asked. */
export const TRIES_BEFORE_SOURCE = 6
/** Asks of the source by its own child in the chunk's stripe before it goes round holders. */
export const CHILD_TRIES_AT_SOURCE = 2
/** After the source points us elsewhere (over its budget), we ask it for nothing but urgent live
 * chunks for this long: its hint named holders to try, and asking again and again is exactly what
 * makes it serve (a chunk asked for five times is served whatever its budget). */
export const SOURCE_REFUSAL_BACKOFF_MS = 1000
/** Closer than this to its playback deadline, a chunk may be pulled from the source whatever its budget. */
export const URGENT_MS = 1500

/** A new child gets up to this many recent chunks of its stripe pushed at once (its catch-up to
 * where it starts playing), so a joiner does not pull its first segments from the source. Capped:
 * one subscription must not make a parent send more than a few seconds of stream. */
export const CATCHUP_CHUNKS = 48
/** The source answers pulls with data while its upload stays within one copy plus its repair
 * budget plus this burst (about 1 s of a 2 Mb/s stream); beyond that it points to peers. It was
 * 512 KiB while answers to unverified askers (a joiner's first asks, before our cookie reached it),
 * dropped by the 2x rule, were charged too: about half of it went on those, and the join wave's
 * pulls met a burst of this size. Given back to real pulls, the 512 KiB raised the source's copies
 * by 0.03-0.07 at 1 % loss; 256 KiB lowered them 0.03-0.06 below the old figures (200 viewers x
 * 30 s, seeds 1-4, docs/SCHEDULER.md session 16). */
export const SOURCE_BURST_BYTES = 256 * 1024
/** A joiner expects its player to start this long after joining (the startup goal is 2 s). */
export const STARTUP_MS = 1500

/** We count as receiving a stripe (and may take children in it) only if our parent pushed to us
 * this recently. Shorter than PARENT_TIMEOUT_MS, so a node whose parent went silent is refused by
 * its own children when it asks them: that keeps a stripe's graph free of cycles. Paced (paced()),
 * it stays shorter at one node for any pace (one stripe period against two); between two nodes
 * whose paces differ for a while (one heard the source's pause before the other) it may not, and
 * the path check (StripeParents.ancestors, Children.onSubscribe) is what refuses the loop then. */
export const RECEIVING_MS = 1000
/** A stripe parent whose next push is this late, counted from when a later chunk came from the
 * parent of another stripe, is failing us: we leave it without waiting out PARENT_TIMEOUT_MS and
 * tell its own parent. Covers a few hops of depth difference between stripes on a WAN. */
export const MISSED_PUSH_MS = 300
/** A new parent said yes, so it receives the stripe and has what we lack of it: its catch-up
 * starts at once. Nothing within this long, while we lack chunks of its stripe, is a failure too
 * (the only test there is when every parent we have is new, or a squatter). */
export const FIRST_PUSH_MS = 600
/** A relay that fed its children nothing: they avoid it as a parent, its parent keeps it out of
 * its children in that stripe (and push-down off there, so nobody gets a place by claim alone),
 * and a complainer is heard once per stripe, all for this long. Interior places near the source
 * are earned by delivery. */
export const FAILED_RELAY_MS = 30_000

/** Pulls a node answers with data per second (about half a copy of a 2 Mb/s stream): beyond that
 * it answers with hints, so one well-known peer is not buried in everyone's repairs. */
export const PULLS_SERVED_PER_SECOND = 16

export function stripeOf(n: number): number { return n % STRIPES }

/** The silences below were tuned at 2 Mb/s (a stripe gets a chunk every 262 ms, 240-280 ms from
 * the source's 40 ms ticks), and they hold as they are up to this stripe period (about 1.3 Mb/s). */
export const PACED_FROM_MS = 400
/** The most a stripe period stretches a silence by (at 125 kb/s a stripe gets a chunk every 4.2 s):
 * a bound on how long a slow stream keeps a parent that stopped. A pause of the source is not read
 * as a pace at all (ChunkPace starts its window again). */
const PACED_UP_TO_MS = 5000

/** A silence of `ms` (tuned at 2 Mb/s) meant to span `periods` of a stripe's pushes, for a stream
 * whose stripes wait `stripeMs` for a chunk (ChunkPace; undefined: not known yet): stretched by
 * what each period takes beyond PACED_FROM_MS. At 250 kb/s (2.1 s a stripe) PARENT_TIMEOUT_MS's
 * 1.5 s took every parent for gone between two of its pushes, and RECEIVING_MS's 1 s had every
 * relay refuse children half the time. */
export function paced(ms: number, periods: number, stripeMs: number | undefined): number {
  if (stripeMs === undefined || stripeMs <= PACED_FROM_MS) return ms
  return ms + periods * (Math.min(stripeMs, PACED_UP_TO_MS) - PACED_FROM_MS)
}

export function isReceiving(hasParent: boolean, lastPushAt: number, now: number, stripeMs?: number): boolean {
  return hasParent && now - lastPushAt < paced(RECEIVING_MS, 1, stripeMs)
}

/** Answer this pull with data? `servedRecently` counts pulls answered in the last second;
 * `spareBytesPerSecond` is what an upload cap leaves after our children's pushes (undefined: no
 * cap). A weak uplink that said yes to every pull queued chunks behind its own requests and
 * subscriptions: its children, and everyone pulling from it, timed out and went to the source. */
export function mayServePull(servedRecently: number, spareBytesPerSecond?: number, chunkBytes = CHUNK_SIZE): boolean {
  const allowed = spareBytesPerSecond === undefined ? PULLS_SERVED_PER_SECOND : Math.min(PULLS_SERVED_PER_SECOND, Math.floor(spareBytesPerSecond / chunkBytes))
  return servedRecently < allowed
}

/** The source repairs its own children's lost pushes within this share of the stream (a budget of
 * its own, beside SOURCE_REPAIR_BUDGET), plus SOURCE_CHILD_BURST_BYTES: it covers a loss rate of
 * this much on the links to its children, and bounds what a child that asks for everything costs.
 * Each stripe has its own quarter, so that child cannot spend the other stripes' repairs. */
export const SOURCE_CHILD_REPAIR_BUDGET = 0.05
export const SOURCE_CHILD_BURST_BYTES = 4 * CHUNK_SIZE

/** May the source answer its own child's pull of a chunk of that child's stripe? A push lost between
 * the source and its child in a stripe is missing at every node below: nobody else has it, and the
 * child is the one node that should ask (issue 12's seventh session). `stripePulledBytes`: what it
 * served under this rule so far in the chunk's stripe. */
export function sourceMayRepairChild(stripePulledBytes: number, producedBytes: number): boolean {
  return stripePulledBytes < (producedBytes * SOURCE_CHILD_REPAIR_BUDGET + SOURCE_CHILD_BURST_BYTES) / STRIPES
}

/** The source's rescue (a chunk the same viewer asked for ASKS_BEFORE_SOURCE_SERVES times despite
 * being pointed elsewhere: its holders vanished or lied) has a budget of its own: this share of the
 * stream plus SOURCE_RESCUE_BURST_BYTES, most of it for the join wave's start-up holes under loss
 * (1 MiB ran out at 3 % loss, 200 viewers, seed 2, and the mean viewer fell 99.98 -> 99.65 %).
 * Unbounded, a subtree that a stripe failed to reach (a weak viewer inside it, not yet measured)
 * had every viewer in it rescued chunk by chunk: 7.97 of 10.19 copies (issue 12, session 11). */
export const SOURCE_RESCUE_BUDGET = 0.05
export const SOURCE_RESCUE_BURST_BYTES = 128 * CHUNK_SIZE
/** One asker takes at most this share of the rescue's allowance, so that a viewer asking for
 * everything (a liar, or the top of a failing subtree) leaves the rest for other holes. */
export const SOURCE_RESCUE_ASKER_SHARE = 0.25

/** May the source rescue this ask? `rescuedBytes` and `askerBytes`: what it rescued so far, in all
 * and for this asker. (Only for a chunk some player could still play was tried and dropped: the
 * rescue's use under loss is joiners' start-up buffers, asked late; docs/SCHEDULER.md session 11.) */
export function sourceMayRescue(s: { rescuedBytes: number; askerBytes: number; producedBytes: number }): boolean {
  const allowance = s.producedBytes * SOURCE_RESCUE_BUDGET + SOURCE_RESCUE_BURST_BYTES
  return s.rescuedBytes < allowance && s.askerBytes < allowance * SOURCE_RESCUE_ASKER_SHARE
}

/** May the source answer a pull with data? Its push costs one copy; pulls come out of the budget. */
export function sourceMayServe(pulledBytes: number, producedBytes: number): boolean {
  // Only pulls count: the push is the one copy, and counting it here let a burst of early pushes
  // (catch-ups of new children) use up the budget and leave holes nobody else could ever fill.
  return pulledBytes < producedBytes * SOURCE_REPAIR_BUDGET + SOURCE_BURST_BYTES
}

/** When the player needs a chunk: PLAYOUT after its publish for a viewer watching live, but a
 * joiner plays from its start chunk onwards, STARTUP_MS after joining, in real time. */
export function playbackDeadline(publishedAt: number, playoutMs: number, join: { at: number; startPublishedAt: number } | null): number {
  const live = publishedAt + playoutMs
  if (!join) return live
  return Math.max(live, join.at + STARTUP_MS + (publishedAt - join.startPublishedAt))
}

/** The stripe a viewer is interior in: spread evenly by a hash of its address, so no coordination
 * is needed and any node can predict any other's (used to order redirects). */
export function interiorStripe(addr: string): number {
  let h = 2166136261
  for (let i = 0; i < addr.length; i++) h = Math.imul(h ^ addr.charCodeAt(i), 16777619)
  return (h >>> 0) % STRIPES
}

/** Does our parent in a stripe owe us `owed` pushes (1 by default)? `lastPushed` is the newest chunk
 * it pushed to us (or the newest we had when it took us), `frontier` the newest chunk any of our
 * parents pushed. Its next chunk is lastPushed + STRIPES; a later one from another stripe means
 * ours is late. Any block counts as a push, so a datagram lost now and then does not make a parent
 * late. */
export function pushOverdue(lastPushed: number, frontier: number, owed = 1): boolean {
  return frontier > lastPushed + owed * STRIPES
}

/** Behind for this long without a break is chronic, whatever else: a single hole is over once the
 * next chunk of the stripe comes, about two stripe periods (4 chunks each) later. */
export const CHRONIC_LATE_MS = 1000
/** Owing a second push for this long as well is a failure (a relay that left owes it about one
 * stripe period after the first). */
export const OWED_TWO_MS = MISSED_PUSH_MS / 2
/** A parent's record: whether it pushed each of the last this many chunks of its stripe it owed us. */
export const PUSH_RECORD = 8
/** Missed this many of them: it feeds us a trickle, not a lossy stream (at 3 % loss per link, a
 * node four hops down misses about one in eight). */
export const MISSES_TO_FAIL = PUSH_RECORD / 2

/** How far behind a stripe parent is: owing us one push for `owedOneMs`, two for `owedTwoMs` (both
 * 0 when it does not), and how many of the last PUSH_RECORD chunks it owed us it skipped. */
export interface Lateness { owedOneMs: number; owedTwoMs: number; recentMisses: number }

/** Is a late stripe parent failing us (we leave it and name it to its own parent)? Judged by its
 * pattern, not one event (issue 12). A chunk lost on its way to a stripe's top relay, which nobody
 * below can repair, is missing at every node of the stripe; one more datagram lost on any link
 * below made that link's parent owe two pushes, 300 ms late, and it was complained off its place
 * like a squatter: its whole subtree re-formed (40 viewers, 3 % loss, a source that answers no
 * pull: 62-209 complaints a run, a stripe with 10 or more viewers unparented for up to 15 s). Now
 * a parent owing one push fails us only if it has done so for CHRONIC_LATE_MS, or has missed
 * MISSES_TO_FAIL of its last PUSH_RECORD, or owes a second one for OWED_TWO_MS too (a relay
 * that left: noticed one stripe period later than before, about 260 ms at 2 Mb/s). A squatter,
 * which pushes nothing at all, is left by the FIRST_PUSH_MS rule. Leaving on the first owed push
 * when the parent had not said its feed is late (the tell now reaches every level within a link
 * delay) was tried in the seventh session and brought the orphaned stripes back: lateness without
 * a hole above (a stripe a few hops deeper than the others, a lost tell) is common under loss. */
export function lateParentFails(l: Lateness, stripeMs?: number): boolean {
  if (l.owedOneMs <= MISSED_PUSH_MS) return false
  return l.owedTwoMs > OWED_TWO_MS || l.owedOneMs > paced(CHRONIC_LATE_MS, 2, stripeMs) || l.recentMisses >= MISSES_TO_FAIL
}

/** A newcomer the source pointed elsewhere that asks it again within this long found no place
 * below it (see ChildRequest.returned). */
export const RETURN_MS = 10_000

/** `leaf`: the asker said it can carry no children of its own (too little upload): never pushed
 * in as an interior node, and the first to be pushed down. `returned`: the source pointed it
 * elsewhere within RETURN_MS and nobody below took it (set by the source, at most once per stripe
 * per RETURN_MS). */
export interface ChildRequest { from: string; stripe: number; leaf?: boolean; returned?: boolean }
export interface ParentState {
  isSource: boolean
  self: string
  /** Current children per stripe. */
  children: ReadonlyArray<ReadonlySet<string>>
  /** True when we receive this stripe (a viewer can only forward what flows to it). */
  receiving: (stripe: number) => boolean
  /** False while a stripe had a failed child recently: nobody gets a place by claim alone then. */
  pushDown?: (stripe: number) => boolean
  /** Children (over all stripes) our upload can carry, from `--max-upload`; undefined: no cap. */
  maxChildren?: number
  /** Children that said they are leaves (ChildRequest.leaf). */
  leaves?: ReadonlySet<string>
  /** We are behind a symmetric NAT: nobody we did not contact can reach us, so we take no children. */
  unreachable?: boolean
  /** What a peer told us of its NAT: a `symmetric` one is a leaf child, outside the tree's places. */
  natOf?: (addr: string) => NatKind | undefined
  /** Peers behind the same public host as `addr`, with their LAN addresses (src/mesh/nat/lan-mates.ts). */
  lanMates?: (addr: string) => Array<{ at: string; local: string }>
  /** The stream's source(s): never counted as a node that fans out, whatever its address hashes
   * to (it takes SOURCE_FANOUT children per stripe and is nearly always full). */
  sources?: ReadonlySet<string>
  /** What a child told us of the places it (`room`) and its subtree (`below`) could still take in
   * the stripe asked for (PleaseKeepSendingMe, every resubscription): redirects lead there first. */
  roomOf?: (addr: string) => { room: number; below: number } | undefined
  /** Peers that reach `addr`, a viewer behind a symmetric NAT, because we introduced them for a
   * birthday punch (src/mesh/nat/introductions.ts punchedWith): where the source sends it. */
  reachedBy?: (addr: string) => readonly string[]
}
/** `evict`: a child to push down under the newcomer (SplitStream's push-down), told to ask it instead. */
export type ChildDecision = { accept: true; evict?: string } | { accept: false; tryInstead: string[] }

/** Should we push stripe `stripe` to `from`? If not, whom should it ask instead (best first).
 * `otherHolders` may be given as a function: it is only called for a refusal (a busy node takes
 * most subscriptions as renewals, and the list costs a walk of its holders). It may be a lazy walk
 * (Holders.walk): a refusal reads only as far as its eight. */
export function decideChild(s: ParentState, req: ChildRequest, otherHolders: Iterable<string> | (() => Iterable<string>)): ChildDecision {
  const behindSymmetric = (a: string) => s.natOf?.(a) === 'symmetric'
  const all = s.children[req.stripe]
  if (behindSymmetric(req.from) && s.lanMates) {
    // Behind one router, the first viewer we feed this stripe feeds the others across their LAN:
    // one copy per LAN, not per viewer. Checked again at every resubscription, since a viewer may
    // ask before we heard of its LAN-mates.
    const mates = new Map(s.lanMates(req.from).map((m) => [m.at, m.local]))
    const first = [...all].find((a) => a === req.from || mates.has(a))
    if (first !== undefined && first !== req.from) return { accept: false, tryInstead: [mates.get(first)!] }
  }
  // At the source a child behind a symmetric NAT is asked again at each renewal whether a viewer
  // that can reach it has come along (a port mapping, a birthday punch: src/mesh/nat/reachability.ts).
  if (all.has(req.from) && !(s.isSource && behindSymmetric(req.from))) return { accept: true }
  // Children behind symmetric NATs are counted apart: the tree's places are for relays.
  const kids = new Set([...all].filter((a) => !behindSymmetric(a)))
  // A declared leaf takes no relay's place: an uncapped viewer that receives the stripe feeds it
  // beside its places, up to LEAF_SLOTS (issue 12: in the join wave a twentieth-copy viewer went
  // from full node to full node, 20-28 asks over 14 s, and missed a quarter of the stream).
  if (req.leaf && !s.isSource && !s.unreachable && s.maxChildren === undefined && s.receiving(req.stripe) &&
    [...kids].filter((a) => s.leaves?.has(a)).length < LEAF_SLOTS) return { accept: true }
  const interior = (a: string) => interiorStripe(a) === req.stripe && !s.leaves?.has(a)
  const redirect = () => {
    // A child that said it has a place is one hop from a yes; one whose subtree has places leads
    // there in a few (each hop down is the same choice); then children interior in this stripe,
    // which have room for grandchildren when they have any. Without what children tell, a leaf
    // went from full node to full node, 20-50 asks a join (issue 12, uneven uplinks).
    const mine = [...kids].filter((a) => a !== req.from)
    const rank = (a: string) => {
      const r = s.roomOf?.(a)
      return r === undefined ? [2, 0] : r.room > 0 ? [0, -r.room] : r.below > 0 ? [1, -r.below] : [3, 0]
    }
    const ordered = mine
      .map((a) => ({ a, k: rank(a), i: interior(a) ? 0 : 1 }))
      .sort((x, y) => x.k[0] - y.k[0] || x.i - y.i || x.k[1] - y.k[1])
      .map((x) => x.a)
    const others = typeof otherHolders === 'function' ? otherHolders() : otherHolders
    const usable = (a: string) => a !== req.from && !all.has(a) && a !== s.self && !behindSymmetric(a)
    if (!behindSymmetric(req.from)) {
      // The list below, cut at eight as it is told, without walking every holder (the source
      // refuses nearly every subscription, each with this walk).
      const out = ordered.slice(0, 8)
      for (const a of others) { if (out.length >= 8) break; if (interiorStripe(a) === req.stripe && usable(a)) out.push(a) }
      for (const a of others) { if (out.length >= 8) break; if (interiorStripe(a) !== req.stripe && usable(a)) out.push(a) }
      return { accept: false as const, tryInstead: out }
    }
    // The source hears from its viewers but holds none of them as holders (it receives nothing),
    // so its walk lists few; the peers it introduced to this one come first. Without them a
    // punched cone viewer was offered only in the one stripe where it was the source's own child,
    // and the source fed the symmetric viewer from leaf places in the other three (NAT lab,
    // session 9).
    const rest = [...new Set([...(s.reachedBy?.(req.from) ?? []), ...others])].filter(usable)
    const list = [...ordered, ...rest.filter((a) => interiorStripe(a) === req.stripe), ...rest.filter((a) => interiorStripe(a) !== req.stripe)]
    // A peer behind a symmetric NAT can reach only peers without a NAT: those first.
    const open = behindSymmetric(req.from) ? list.filter((a) => s.natOf?.(a) === 'none') : []
    return { accept: false as const, tryInstead: [...open, ...list.filter((a) => !open.includes(a))].slice(0, 8) }
  }
  if (s.unreachable) return redirect()
  if (behindSymmetric(req.from)) {
    // The source sends a newcomer to a viewer anyone can reach (a port mapping, or no NAT) when it
    // knows one: its own leaf places are the last resort (src/mesh/nat/reachability.ts).
    const r = s.isSource ? redirect() : undefined
    if (r !== undefined && s.natOf?.(r.tryInstead[0]) === 'none') return r
    if (all.has(req.from)) return { accept: true }
    const taken = all.size - kids.size
    return (s.isSource || s.receiving(req.stripe)) && taken < LEAF_SLOTS ? { accept: true } : redirect()
  }
  // Push-down: when full, a newcomer that is interior in this stripe (room for grandchildren) takes
  // the place of a child that is not, and that child moves one level down, under the newcomer. So
  // the top of every stripe tree fills with nodes that can fan out, and the trees stay shallow.
  const pushDown = () => {
    if (req.leaf || interiorStripe(req.from) !== req.stripe) return redirect()
    // After a complaint push-down is off (no place by claim alone), except at the source for an
    // interior newcomer that came back while no child there can fan out: the complainer the source
    // took (interior elsewhere, its spare places spent) fed nobody in the stripe, and with every
    // interior newcomer turned away for FAILED_RELAY_MS the whole stripe lived on the source's
    // "asked five times" pulls (issue 12, uneven uplinks measured, seed 3: a weak relay that had
    // not yet measured its link complained off at 1.7 s, 11.3 source copies, worst viewer 44 %).
    // Coming back is the rule's own guard: once per stripe per RETURN_MS, and only after asking.
    if (s.pushDown?.(req.stripe) === false && !(s.isSource && req.returned && ![...kids].some(interior))) return redirect()
    // A child that can carry others moves down first: it finds a place again in one hop. A
    // declared leaf (a weak uplink) goes only when no other child can, since every move costs its
    // weak uplink a new join (issue 12: such a viewer, pushed down by each interior newcomer, spent
    // 10-20 s of a 30 s run without a parent in three stripes).
    // At the source, an interior newcomer that came back (nobody in the stripe took it) takes the
    // place of whatever child the source has: a child that says it relays and takes nobody (a
    // weak viewer that claims otherwise) shut the whole stripe off, every viewer pulling it
    // (30 viewers, 4 such claimants: 2.3 source copies; test/mesh/claimed-room.test.ts). An
    // honest top relay moves one level down, under a node with every place free.
    const leaf = [...kids].find((a) => !interior(a) && !s.leaves?.has(a)) ?? [...kids].find((a) => !interior(a)) ?? (s.isSource && req.returned ? [...kids][0] : undefined)
    return leaf ? { accept: true as const, evict: leaf } : redirect()
  }
  if (s.isSource) return kids.size < SOURCE_FANOUT ? { accept: true } : pushDown()
  // A viewer whose upload cannot carry another child takes none (Chunkyspread's load control: a
  // weak uplink as an interior node starves its whole subtree); a push-down keeps the count.
  const total = s.children.reduce((n, set) => n + relaysIn(s, set), 0)
  if (s.maxChildren !== undefined && total >= s.maxChildren) return total > 0 && s.receiving(req.stripe) ? pushDown() : redirect()
  if (!s.receiving(req.stripe)) return redirect()
  if (interiorStripe(s.self) === req.stripe) return kids.size < FANOUT ? { accept: true } : pushDown()
  const spareUsed = s.children.reduce((n, set, i) => (i === interiorStripe(s.self) ? n : n + relaysIn(s, set)), 0)
  if (spareUsed < SPARE_SLOTS) return { accept: true }
  // Nobody we would send it to fans out in this stripe (a small swarm: a chain of viewers all
  // interior elsewhere): one more spare child, up to one per other stripe, rather than a stripe
  // with no parent down the chain, every chunk of it pulled late (issue #14). Where interior
  // nodes are known, the spare slots stay few and the trees shallow. (The source is not one: with
  // its address hashing to this stripe it used to count, and in a chain the stripe then had no
  // parent below the first relay for as long as the chain lived.)
  const r = redirect()
  const fansOut = (a: string) => interiorStripe(a) === req.stripe && !s.sources?.has(a)
  return spareUsed < STRIPES - 1 && !r.tryInstead.some(fansOut) ? { accept: true } : r
}

/** Places we would still take in `stripe` for a child that can relay (what decideChild accepts
 * without a push-down), told to our parent with every subscription (PleaseKeepSendingMe.room) so
 * that its redirects lead there. None at the source, behind a symmetric NAT, or in a stripe we do
 * not receive. */
/** Whether a child takes one of our places: one behind a symmetric NAT is fed as a leaf beside them. */
export function takesPlace(nat: NatKind | undefined): boolean { return nat !== 'symmetric' }

/** Children in `set` that take a place. */
function relaysIn(s: ParentState, set: ReadonlySet<string>): number {
  let n = 0
  for (const a of set) if (takesPlace(s.natOf?.(a))) n++
  return n
}

export function childRoom(s: ParentState, stripe: number): number {
  if (s.isSource || s.unreachable || !s.receiving(stripe)) return 0
  const counts = s.children.map((set) => relaysIn(s, set))
  const total = counts.reduce((a, b) => a + b, 0)
  const capLeft = s.maxChildren === undefined ? Infinity : s.maxChildren - total
  const own = interiorStripe(s.self)
  const here = own === stripe ? FANOUT - counts[stripe] : SPARE_SLOTS - (total - counts[own])
  return Math.max(0, Math.min(capLeft, here))
}

/** Orders candidate parents for a stripe: interior ones first, then by RTT; the source last unless
 * nothing else is known (it only has room for one child per stripe). */
export function rankParents(stripe: number, candidates: Array<{ addr: string; rttMs?: number; isSource: boolean }>): string[] {
  return [...candidates]
    .sort((a, b) =>
      Number(a.isSource) - Number(b.isSource) ||
      Number(interiorStripe(b.addr) === stripe) - Number(interiorStripe(a.addr) === stripe) ||
      (a.rttMs ?? 100) - (b.rttMs ?? 100))
    .map((c) => c.addr)
}

export interface MissingChunk {
  n: number
  /** When the player needs it (ms, our clock). */
  deadline: number
  /** When we learned it exists; a push may still be on its way for a short while. */
  knownSince: number
  /** Published before we joined: the start-up buffer, not the live stream (see planRepairs). */
  backfill?: boolean
}
export interface RepairState {
  now: number
  missing: MissingChunk[]
  /** Chunks already requested, with when and from whom. */
  inFlight: ReadonlyMap<number, { peer: string; at: number; tries: number; retryAt?: number }>
  /** Who might have chunk n, best first (stripe parent, other parents, peers that said so). Asked
   * only for the chunks that may be requested now, so it must not change anything. */
  holders: (n: number) => string[]
  source: string | undefined
  /** Bytes the source's repair budget still allows. */
  sourceBudgetChunks: number
  /** The source is our parent in chunk n's stripe: a push of it lost on that link is missing at
   * every node of the stripe below us, so we ask the source first (its own budget for its
   * children's repairs, sourceMayRepairChild), and the repair goes down the stripe. */
  fedBySource?: (n: number) => boolean
  rttMs: (peer: string) => number
  /** At most this many requests this pass (a capped uplink's share for requests; none: no limit). */
  maxRequests?: number
}
export interface RepairRequest { n: number; peer: string }

/** Which missing chunks to pull now, and from whom: earliest deadline first, each peer within its
 * window, retries moved to another holder, the source only within its budget. */
export function planRepairs(s: RepairState): RepairRequest[] {
  // Most passes of most viewers have nothing due (every missing chunk on its way): no sort then.
  if (!s.missing.some((m) => repairDue(m, s.inFlight.get(m.n), s.now, s.rttMs))) return []
  const perPeer = new Map<string, number>()
  // Only requests still within their timeout occupy a peer's window (a refused one does not: that
  // peer said no); expired ones are retried below.
  for (const f of s.inFlight.values()) {
    if (f.retryAt === undefined && s.now - f.at < Math.max(REPAIR_TIMEOUT_MS, 4 * s.rttMs(f.peer))) perPeer.set(f.peer, (perPeer.get(f.peer) ?? 0) + 1)
  }
  const out: RepairRequest[] = []
  let sourceLeft = s.sourceBudgetChunks
  const ordered = [...s.missing].sort((a, b) => a.deadline - b.deadline || a.n - b.n)
  for (const m of ordered) {
    if (out.length >= (s.maxRequests ?? Infinity)) break
    const flight = s.inFlight.get(m.n)
    if (!repairDue(m, flight, s.now, s.rttMs)) continue
    const holders = s.holders(m.n)
    if (!flight && s.now - m.knownSince < REPAIR_GRACE_MS + 2 * Math.min(...holders.map(s.rttMs), 50)) continue
    const tries = flight?.tries ?? 0
    // Rotate through holders on retries so one silent peer does not hold a chunk hostage.
    const candidates = holders.length ? [...holders.slice(tries % holders.length), ...holders.slice(0, tries % holders.length)] : []
    // The source fills a hole when its budget allows, or when nobody else can before the deadline:
    // an urgent chunk that several holders failed to deliver goes to the source (which serves a
    // viewer that keeps asking for the same chunk whatever its budget: see stream/source-budget.ts).
    // A joiner's start-up buffer is never urgent enough for the source: it comes from the new
    // parents' catch-up pushes and from holders. Otherwise a flash crowd of joiners, each
    // pointed to peers that are busy or still joining themselves, ends up pulling every one's
    // first seconds from the source, which is what a join storm cost before.
    const urgent = !m.backfill && m.deadline - s.now < URGENT_MS
    // But not while the source itself does not answer: an ask of the source that timed out (it
    // left, or its answers are lost) sends the next try on round the holders. Pinned to the source,
    // such a chunk stayed a hole for good, and holders that got it meanwhile (a repair on its way
    // down, a parent that caught up) were never asked again. A source that answers "ask them"
    // keeps being asked: its "asked five times" rule is the rescue when holders lie.
    const sourceSilent = flight !== undefined && flight.peer === s.source && flight.retryAt === undefined
    const holdersFailed = urgent && tries >= TRIES_BEFORE_SOURCE && !sourceSilent
    // The source's own child in this stripe asks it first, twice at most (a lost request or answer),
    // and not once it said "ask them": then the holders, as anyone. Without this the child went
    // round holders that all lacked the chunk (every node of the stripe is below it) until the
    // chunk turned urgent, and meanwhile the nodes below it went to the source too.
    const fromSource = s.source !== undefined && !m.backfill && tries < CHILD_TRIES_AT_SOURCE && !(flight?.peer === s.source && flight.retryAt !== undefined) && (s.fedBySource?.(m.n) ?? false)
    if (fromSource && (perPeer.get(s.source!) ?? 0) < REPAIR_WINDOW) {
      perPeer.set(s.source!, (perPeer.get(s.source!) ?? 0) + 1)
      out.push({ n: m.n, peer: s.source! })
      continue
    }
    // (A viewer that does not know the source's address keeps rotating through every holder.)
    let peer = holdersFailed && s.source ? undefined : candidates.find((p) => p !== s.source && (perPeer.get(p) ?? 0) < REPAIR_WINDOW)
    // The start-up buffer waits for a holder while there is one (issue 12's join storms: a joiner
    // whose holders were at their window took its share of the source's budget, and two hundred
    // joiners' shares were the source's whole burst); only a joiner that knows nobody else asks it.
    const sourceMay = m.backfill ? sourceLeft >= 1 && !holders.some((p) => p !== s.source) : sourceLeft >= 1 || urgent
    if (!peer && s.source && sourceMay && (perPeer.get(s.source) ?? 0) < REPAIR_WINDOW) { peer = s.source; sourceLeft-- }
    if (!peer) continue
    perPeer.set(peer, (perPeer.get(peer) ?? 0) + 1)
    out.push({ n: m.n, peer })
  }
  return out
}

/** Whether missing chunk `m` may be asked for now as far as its own timing goes: a request in
 * flight waits its retry time if refused, else its timeout; a chunk not asked for yet waits its
 * grace whatever the holders' round trips (the holders are not looked up for it: most missing
 * chunks of a pass are on their way, and that lookup showed in profiles). */
function repairDue(m: MissingChunk, flight: { peer: string; at: number; retryAt?: number } | undefined, now: number, rttMs: (peer: string) => number): boolean {
  if (flight) {
    if (flight.retryAt !== undefined) return now >= flight.retryAt
    // Within the timeout's floor no round trip can make it due: its peer is not looked up (most
    // requests in flight at most passes, one lookup each per pass).
    if (now < flight.at + REPAIR_TIMEOUT_MS) return false
    return now >= flight.at + Math.max(REPAIR_TIMEOUT_MS, 4 * rttMs(flight.peer))
  }
  return now - m.knownSince >= REPAIR_GRACE_MS
}

/** A join gives the candidate it asked (or is greeting) at least this long to answer before the
 * next one, and JOIN_ANSWER_RTTS round trips on a slower path, up to JOIN_ANSWER_MAX_MS. A fixed
 * 500 ms passed over every candidate once round trips reached 300-650 ms (the NAT lab at load 33):
 * each yes came after its join had moved on and was declined, and the joiner ended at the source. */
export const JOIN_ANSWER_MS = 500
export const JOIN_ANSWER_RTTS = 2
export const JOIN_ANSWER_MAX_MS = 2500

/** How long a join waits for a candidate's answer, given its round trip (`rttMs`; unknown, as for
 * a stranger still finishing the hello: the floor). */
export function joinAnswerMs(rttMs: number | undefined): number {
  return Math.min(JOIN_ANSWER_MAX_MS, Math.max(JOIN_ANSWER_MS, JOIN_ANSWER_RTTS * (rttMs ?? 0)))
}
