// The telemetry's byte budget, held by construction: at any node, the telemetry it sends and takes
// stays under 1 % of the stream bytes it receives (the source: produces), whatever its number of
// children (issue 15). A node's telemetry is three flows, each paid from a bucket that nothing is
// sent without:
//   - up, its summaries and counts to its report parent (StripeParents.reportParent): at most UP_SHARE of the stream bytes it
//     received, and at most what that parent granted it (below);
//   - down, the grants it sends its own children: at most GRANT_SHARE;
//   - in, its children's summaries: each child sends at most its grant, and the grants add up to
//     KIDS_SHARE of the stream bytes a second this node receives, split between its children by
//     the viewers each carries (AudienceGrants.shares: half evenly, half by subtree size, none past
//     what a child may send up). Sixteen children (symmetric-NAT children take no place, so
//     nothing bounds their number) share the same KIDS_SHARE.
// Together 0.85 % (0.2 + 0.5 + 0.15), the rest a margin for the buckets' bursts and a parent's rate estimate. Before
// this, summaries were paid from UP_SHARE but the counts and the summaries of a node silent for
// 5 s went past it, and nothing bounded what a parent took in: 8 children at 0.1 % each and their
// counts put the busiest node of 300 at 0.65-0.80 %, and 16 children would have passed 1 %.
// Before its parent's grant arrives (one tick and a trip) a child saves no more than IDLE_BYTES from
// its own UP_SHARE (it goes on at that rate, in bursts no larger): a parent's children cost it that much each on arriving beyond the grants,
// which the margin holds. A parent that
// never grants (a build from before the grants) is taken for one NO_GRANT_MS after the child took it
// (AudienceReporter), and gets DEFAULT_SHARE. The cost: a stream of a few kb/s reports seldom (a
// share of it is a few bytes a second).
import type { MessageOf } from '../messages.ts'
import { encodedSize, MAX_GRANT_BPS, STRIPES } from '../messages.ts'

/** What a node may send up, as a share of the stream bytes it receives: the most its parent's grant
 * can be worth. The grant is what binds, except near the top: the source's few children
 * are granted 0.15-0.3 % each, and they carry the largest summaries (their children listed, delays
 * from the whole tree's depths). At 0.1 % they could not pay for their counts and their full
 * summaries both: the counts went first, the summaries with the delays seldom, and the merged p95
 * read 4.8-7.4 % off at 300 viewers (0.8-1.1 % when they went past the budget). */
export const UP_SHARE = 0.002
/** Under a parent that never grants (a build from before the grants): no more than its older
 * children send it (their 0.1 %, and their counts and 5 s summaries past it). */
export const DEFAULT_SHARE = 0.001
/** What a node lets all its children send it, as a share of the stream bytes it receives. 0.65 %
 * left the busiest node of 200 at 0.92-0.93 % of its stream once the children could spend their
 * grants (AudienceReporter.feed; 1 Mb/s, seed 1): too close to the 1 % for a parent's rate estimate
 * and the buckets' bursts. 0.6 % and GRANT_SHARE 0.05 % left it at 0.85-0.95 % in 50 real viewer
 * processes at 500 kb/s, its new children waiting seconds for grants the grants' bucket could not
 * pay (spending their own allowances meanwhile); 0.5 % and 0.15 % at 0.71-0.76 % (three runs each,
 * side by side, every count and p95 within the goals). In the simulator (200 viewers, 500 kb/s and
 * 1 Mb/s) the busiest node went from 0.78-0.91 % to 0.68-0.80 %; 10 s after 20 % left the count
 * missed at two seeds of seven at 500 kb/s (176 and 96 of 160) against one (137), and read closer
 * at 250 kb/s (154 and 162 of 160 against 134 and 118): chaotic from seed to seed either way. */
export const KIDS_SHARE = 0.005
/** What the source lets its children send it: UP_SHARE for each of its STRIPES children (a place a
 * stripe), what each may send up at most. Its children carry the whole audience between them (the
 * telemetry climbs each viewer's highest stripe, StripeParents.reportStripe), and with KIDS_SHARE
 * split four ways (some 78 B/s each at 500 kb/s) their counts, some 100 bytes whenever a viewer
 * below joined or left, took every byte: at 1,000 viewers not one full summary reached the source
 * in 40 s, and it read no delays (seeds 1-2; 25.8 % and 22.5 % off with this share). The source
 * receives no stream, so it measures against what it produced: 0.8 %, below the 1 %. */
export const SOURCE_KIDS_SHARE = STRIPES * UP_SHARE
/** The share of KIDS_SHARE split evenly between a node's children, whatever they carry; the rest
 * goes by the viewers in each child's subtree (subtreeWeight). A relay carrying many viewers sends
 * far more than a leaf: its count changes whenever any viewer below it joins, leaves or moves, and
 * each change must climb on. Split evenly, a relay with 118 viewers below it got the 126 B/s of its
 * five leaf siblings, its counts (some 175 bytes) waited 1.4 s for their bytes at each hop, and 10 s
 * after the joins the source counted 187 of 200 (1 Mb/s, seed 2; the tree had re-formed 2.5 s
 * before). The even half is every child's floor: a leaf still pays its counts and delays, and a
 * liar claiming a million viewers takes no more than one child can send up (UP_SHARE) and leaves
 * each sibling at least half its even share. */
export const EVEN_SPLIT = 0.5

/** A child's weight in the split: 1 for a leaf, 1 + log2 of its subtree's viewers for a relay (118
 * viewers weigh 7.9). Linear in the viewers, every change in a large subtree's size moved every
 * sibling's share past GRANT_SLACK, and each move is a grant paid from the grants' bucket (then 0.05 %,
 * about one grant a second at 1 Mb/s): after a re-formation the new relays waited seconds for
 * their raise behind their siblings' lowered grants. 10 s after the joins of 200 viewers at 1 Mb/s
 * (seeds 1-12) the source counted them within 1 % at 8 seeds split evenly, 9 linear (139 and 111 of
 * 200 at seeds 4 and 6), 11 by the logarithm. */
export function subtreeWeight(viewers: number | undefined): number {
  return 1 + Math.log2(Math.max(1, viewers ?? 1))
}
/** What a node may spend on grants. One is some 170 bytes with the stream's id, 70 with our tag alone
 * (AudienceGrants.grant); each child needs one when it arrives or the split changes. At 500 kb/s
 * 0.05 % paid one whole grant each 5.4 s (see KIDS_SHARE). */
export const GRANT_SHARE = 0.0015
/** The up bucket's cap: a few full summaries (a node near the top, listing its children and
 * grandchildren, sends 1-3 KB). */
export const BURST_BYTES = 4096
/** Without a grant from its parent a node saves no more than this: its first counts go at once,
 * before the grant, and a new parent's children do not arrive with a burst each. */
export const IDLE_BYTES = 512
/** The grants bucket: room for a join wave's worth of children at once. */
const GRANT_BURST_BYTES = 2048
/** A grant is sent again when the split moved by more than this share... */
const GRANT_SLACK = 0.25
/** ...or when the child has said nothing since this long after it (the grant may have been lost),
 * or still names the stream by its id (it has not got it). */
export const GRANT_RETRY_MS = 3000
/** A child that still names the stream by its id after this many grants is taken for an older
 * build, which reads no tag, and is not granted again for it. */
const UNTAGGED_TRIES = 3
/** The stream rate is read over this long (the grants follow a changed bitrate within it). */
const RATE_WINDOW_MS = 10_000
const RATE_STEP_MS = 1000

/** Bytes that may be spent, fed as a share of a growing total and capped. Nothing is sent without
 * them, so what a flow sends never passes what fed it plus one cap. */
export class ByteBucket {
  constructor(public tokens: number, private readonly cap: number) {}
  feed(bytes: number, cap = this.cap): void { this.tokens = Math.min(cap, this.tokens + Math.max(0, bytes)) }
  /** Takes `bytes` if there are as many, and `keep` more left after them. */
  take(bytes: number, keep = 0): boolean {
    if (this.tokens < bytes + keep) return false
    this.tokens -= bytes
    return true
  }
}

export interface GrantsComponents {
  id: string
  /** The source splits SOURCE_KIDS_SHARE, not KIDS_SHARE. */
  isSource?: boolean
  /** Our number for the stream, which the children's summaries may name it by (StreamRegistry). */
  tag?: number
  /** Sends a grant (and counts it in the node's telemetry traffic); false when it did not go out. */
  send: (to: string, m: MessageOf<'TellMeYourAudienceAtMost'>) => boolean
  /** When the child's last summary arrived (-Infinity: never). */
  heardAt: (child: string) => number
  /** Whether the child's last summary named the stream by its id (true), by our tag (false: it holds
   * our grant), or it has sent none (undefined). By the id: it holds no grant of ours (lost, or come
   * before it took us as its parent), or is of an older build. */
  namedById?: (child: string) => boolean | undefined
  /** Whether the child said it takes a grant by our tag alone (a build before that drops one). */
  takesTagGrant?: (child: string) => boolean
  /** The viewers the child's last summary counted in its subtree, itself included (undefined: none yet). */
  viewers: (child: string) => number | undefined
  /** The stream's own bytes a second, from the times the source signed into its chunk records
   * (undefined until two are known; none at the source, whose stream comes at its own rate). */
  streamBps?: () => number | undefined
}

/** Which grants go first when the bucket cannot pay them all (AudienceGrants.tick). */
const PRIORITY = { lowered: 0, newcomer: 1, raised: 2, retry: 3 } as const

/** The parent's side: the stream rate it receives, and one grant per child that reports through it. */
export class AudienceGrants {
  private readonly bucket = new ByteBucket(GRANT_BURST_BYTES / 2, GRANT_BURST_BYTES)
  private readonly told = new Map<string, { bps: number; at: number; tries: number }>()
  /** Stream totals every RATE_STEP_MS over RATE_WINDOW_MS, oldest first. */
  private samples: Array<{ at: number; bytes: number }> = []
  private fedFrom = 0

  constructor(private readonly k: GrantsComponents) {}

  /** Stream bytes a second over the last RATE_WINDOW_MS (undefined before two samples), never
   * more than the stream's own rate (GrantsComponents.streamBps). A viewer takes the stream's
   * recent past at once when it joins (and the chunks it missed when it moves): 2.6 times the
   * stream's rate over its first second at 1 Mb/s. Read over the window, that catch-up granted
   * its children a share of bytes the stream would not bring again, and each step down as it left
   * the window was a lowered grant for every child, paid from the grants' bucket (some 60 B/s, a
   * grant some 130 bytes), which fell behind: the children went on spending the old grants. With
   * 6 children the busiest relay of 50 real viewer processes (1 Mb/s) had granted 1.1-1.8 times
   * its KIDS_SHARE for 14 s, took 1.0 % of its stream from them, and spent 1.11-1.28 % of its
   * stream bytes on telemetry since it joined, past the 1 % (0.85 % bounded). The measured rate
   * stays: below the stream's, it is what this node receives. */
  rate(): number | undefined {
    if (this.samples.length < 2) return undefined
    const a = this.samples[0]
    const b = this.samples[this.samples.length - 1]
    if (b.at <= a.at) return undefined
    const measured = ((b.bytes - a.bytes) * 1000) / (b.at - a.at)
    const stream = this.k.streamBps?.()
    return stream === undefined ? measured : Math.min(measured, stream)
  }

  /** What each of `children` may send now, in bytes a second (undefined before the rate is known):
   * KIDS_SHARE of the stream, EVEN_SPLIT of it evenly and the rest by the viewers each child's
   * subtree counts (subtreeWeight), none past UP_SHARE (a child sends no more than that of its own stream, the same
   * stream; what a child could not use goes to its siblings, as water fills). In hundredths,
   * rounded down, never to nothing while the rate allows a hundredth: rounded down to whole bytes,
   * the share of a child among more than KIDS_SHARE x the rate (1,625 at 2 Mb/s, 52 at 64 kb/s) was
   * 0, no grant went, and every child took its parent for an older build after NO_GRANT_MS and sent
   * it DEFAULT_SHARE: N x 0.1 % of the stream in. A useful floor cannot hold the 1 % for any number
   * of children: to stay counted a child sends its counts (some 150 bytes) at least once per
   * STALE_MS (12 s), about 12 B/s, and N of them take N x 12 B/s, past KIDS_SHARE of the stream
   * beyond 130 children at 2 Mb/s (32 at 500 kb/s, 4 at 64 kb/s). Past that, each child keeps its
   * exact share: its counts go seldom, and it is counted for STALE_MS after each. */
  shares(children: ReadonlySet<string>): Map<string, number> | undefined {
    const r = this.rate()
    if (r === undefined) return undefined
    const out = new Map<string, number>()
    if (children.size === 0) return out
    const floor = (EVEN_SPLIT * KIDS_SHARE * r) / children.size
    const most = UP_SHARE * r
    // A child not heard from yet weighs as a leaf. The weight needs no cap of its own: a child's
    // share stops at `most`, and the floors are everyone's.
    const weight = new Map([...children].map((a) => [a, subtreeWeight(this.k.viewers(a))]))
    let left = (this.k.isSource === true ? SOURCE_KIDS_SHARE : KIDS_SHARE) * r
    // Each round either gives every open child its share or takes those past `most` out at
    // `most`: at most one round per child.
    while (weight.size > 0) {
      let total = 0
      for (const w of weight.values()) total += w
      // Never past what is left, whatever the constants (with these, two children at `most` leave
      // the floors for the rest).
      const even = Math.min(floor, left / weight.size)
      const byWeight = left - even * weight.size
      const over = [...weight].filter(([, w]) => even + (byWeight * w) / total > most)
      if (over.length === 0) {
        for (const [a, w] of weight) out.set(a, even + (byWeight * w) / total)
        break
      }
      for (const [a] of over) { out.set(a, most); left -= most; weight.delete(a) }
    }
    // At most what a receiver's decoder accepts: a grant past it is dropped there as bad, and the
    // child would be left with none.
    for (const [a, bps] of out) out.set(a, Math.min(MAX_GRANT_BPS, Math.floor(100 * bps) / 100))
    return out
  }

  /** `streamBytes`: the stream bytes this node received (produced, at the source) so far. */
  tick(now: number, streamBytes: number, children: ReadonlySet<string>): void {
    this.bucket.feed((streamBytes - this.fedFrom) * GRANT_SHARE)
    this.fedFrom = streamBytes
    if (this.samples.length === 0 || now - this.samples[this.samples.length - 1].at >= RATE_STEP_MS) {
      this.samples.push({ at: now, bytes: streamBytes })
      while (this.samples.length > 2 && now - this.samples[1].at >= RATE_WINDOW_MS) this.samples.shift()
    }
    for (const a of this.told.keys()) if (!children.has(a)) this.told.delete(a)
    // Most nodes are leaves: nothing to split, no maps built each tick.
    if (children.size === 0) return
    const shares = this.shares(children)
    // Nothing granted while our rate allows nothing: that is our first seconds, our rate read over
    // a window mostly from before our stream came. A grant of 0 there silenced the child until the
    // next one, and at 1 Mb/s the bucket (GRANT_SHARE, then some 60 B/s; a grant is some 130 bytes)
    // pays one each 2 s: a relay granted 0 to its first 9 children, and one of them, 7 viewers
    // below it, was still silent, uncounted, 17 s later (200 viewers, seed 1). Ungranted, a child
    // sends its first counts from its own UP_SHARE (IDLE_BYTES).
    if (shares === undefined || [...shares.values()].every((bps) => bps === 0)) return
    // Lowered grants first: the children already sending give up their share before a newcomer
    // is given one. Then the newcomers, which have none, before raises and retries.
    const due: Array<[string, number, number]> = []
    for (const [a, bps] of shares) {
      if (bps === 0) continue
      const t = this.told.get(a)
      if (!t) due.push([a, PRIORITY.newcomer, bps])
      else if (Math.abs(bps - t.bps) > GRANT_SLACK * t.bps) due.push([a, bps < t.bps ? PRIORITY.lowered : PRIORITY.raised, bps])
      else if (now - t.at >= GRANT_RETRY_MS && (this.k.heardAt(a) < t.at || (this.untagged(a, t.at) && t.tries < UNTAGGED_TRIES))) due.push([a, PRIORITY.retry, bps])
    }
    due.sort((x, y) => x[1] - y[1])
    for (const [a, , bps] of due) {
      const t = this.told.get(a)
      const m = this.grant(a, bps, t !== undefined)
      const bytes = encodedSize(m)
      if (!this.bucket.take(bytes)) return
      if (!this.k.send(a, m)) continue
      this.told.set(a, { bps, at: now, tries: t !== undefined && t.bps === bps ? t.tries + 1 : 1 })
    }
  }

  /** A grant of `bps` to child `a`. Once our grant has reached it (`toldBefore`, in this stay under
   * us, and it names the stream by our tag since), by the tag alone if it takes one: 70 bytes
   * instead of 167. At 500 kb/s the grants' bucket (GRANT_SHARE, then 0.05 %, some 31 B/s) paid one
   * whole grant each 5.4 s: a relay's new children waited 10-20 s for theirs, spending their own
   * allowances meanwhile, and its children's lowered grants waited behind them; the relay took
   * 0.87 % of its stream from 6 children (KIDS_SHARE was 0.6 %) and spent 1.15 % on telemetry (the
   * simulator, 50 viewers joining within 5 s). */
  private grant(a: string, bps: number, toldBefore: boolean): MessageOf<'TellMeYourAudienceAtMost'> {
    const type = 'TellMeYourAudienceAtMost'
    if (this.k.tag === undefined) return { type, id: this.k.id, bytesPerSecond: bps }
    const byTag = toldBefore && this.k.namedById?.(a) === false && this.k.takesTagGrant?.(a) === true
    return byTag ? { type, tag: this.k.tag, bytesPerSecond: bps } : { type, id: this.k.id, bytesPerSecond: bps, tag: this.k.tag }
  }

  /** The child spoke after our grant of `at` (a round trip and more), and named the stream by its
   * id: our grant did not reach it as its parent's. At 500 kb/s the source's only child missed its
   * grant so, and sent on at half its budget (the allowance for a parent that never grants), with
   * the id in every summary: the source read no delays in 40 s (seed 5). */
  private untagged(a: string, at: number): boolean {
    return this.k.tag !== undefined && this.k.heardAt(a) > at && this.k.namedById?.(a) === true
  }
}
