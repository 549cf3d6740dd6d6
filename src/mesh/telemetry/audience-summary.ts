// What a viewer tells its report parent about itself and everything below it (docs/PROTOCOL.md,
// HereIsMyAudience): counts that add up the tree, bounded in size whatever the subtree. Every
// figure is either a count of viewers or a count over the sender's last WINDOW_MS, so a parent
// merges its children's summaries by adding them and the source ends up with the whole audience.
// A summary from the wire is untrusted: sanitize() caps every field, so a liar can only distort
// its own subtree's numbers, within the caps, and a capped summary is counted as suspect.

/** Counts over this window (each node's own sliding window, not aligned across nodes; the delays
 * are the exception, counted by EPOCH_MS of the source's clock, see `fresh`). */
export const WINDOW_MS = 30_000
/** Chunk delays are counted by the epoch of the source's clock the chunk was published in (its
 * signed record's time, the same at every viewer): every node's counts for one epoch add up to the
 * whole audience's for that epoch, however late they climb, and the source reads the delays over
 * whole epochs that the tree has finished reporting. */
export const EPOCH_MS = 5000
/** Epochs one summary may carry. A node that could not report for a while sends the oldest first
 * (DelayEpochs.take) and the rest with its next summaries: the oldest are the epochs the source's
 * window waits on to complete (AudienceReporter's COMPLETE_SHARE) and the nearest to the horizon;
 * the newest are still partial up the tree anyway. */
export const MAX_EPOCHS = 8
/** Depths kept apart in viewers-by-depth; deeper viewers are counted in the last entry. */
export const MAX_DEPTHS = 16
/** The most viewers a subtree may claim: the whole audience of a very large stream. */
export const MAX_VIEWERS = 1_000_000
/** Chunk delay buckets: upper bounds in ms, 10 ms * 1.1^i (10 ms to about 60 s). A bucket is 10 %
 * wide, so a percentile read from the merged histogram is within 10 % of the exact one. */
export const DELAY_BUCKETS_MS: readonly number[] = Array.from({ length: 92 }, (_, i) => Math.round(10 * 1.1 ** i))
/** Chunks one viewer may verify in a window: 16 KiB chunks at 100 Mb/s for WINDOW_MS is ~7,600. */
export const MAX_CHUNKS_PER_VIEWER = 10_000
/** Children one node may have in a stripe, with a margin (FANOUT + SPARE_SLOTS is 8). */
export const MAX_FANOUT = 16
/** Bytes one viewer may move in a window: 1 Gb/s. */
const MAX_BYTES_PER_VIEWER = (1e9 / 8) * (WINDOW_MS / 1000)
/** Stalls one player may report in a window, and their seconds. */
const MAX_STALLS_PER_VIEWER = 10
/** Software versions told apart; the rest count as "other". */
export const MAX_VERSIONS = 4
const VERSION = /^[0-9A-Za-z.+-]{1,24}$/
/** Direct children listed by address (the dashboard's top levels of the tree). */
export const MAX_KIDS = 8
/** Grandchildren listed under those, in all. */
export const MAX_GRANDKIDS = 16

/** One child in the tree as its parent lists it: address, subtree size, on-time share (0..1). */
/** `s`: viewers of that subtree flagged as suspect. */
export interface KidEntry { a: string; v: number; h: number; s?: number; k?: KidEntry[] }

export interface AudienceSummary {
  /** Viewers in the subtree, the sender included. */
  viewers: number
  /** byDepth[0] is the sender (1), byDepth[1] its children, ...; the last entry takes the rest. */
  byDepth: number[]
  /** Chunks verified within the playout deadline, after it, and never (in the window). */
  onTime: number
  late: number
  missed: number
  /** Chunk delays in the window, [bucket index, count] for the non-empty buckets (a node's view;
   * on the wire the delays travel in `fresh`). */
  delay: Array<[number, number]>
  /** Chunk delays verified in the subtree since the sender's last summary: [epoch, first bucket,
   * counts] (epoch: the chunk's publish time / EPOCH_MS; see EpochRun). Each delay is sent up once, so a parent adds
   * these to its own and the source's sum for an epoch is every viewer's. */
  fresh?: EpochDelays
  /** Stalls reported by player pages in the window, and their total seconds. */
  stalls: number
  stallSeconds: number
  /** Payload bytes uploaded and received in the window, and received from the source. */
  up: number
  down: number
  fromSource: number
  versions: Record<string, number>
  /** Viewers behind no NAT, a cone NAT and a symmetric one, as each classified itself (src/mesh/nat/);
   * the rest of `viewers` do not know yet. Absent: none known. */
  nat?: NatCounts
  /** Viewers in the subtree whose summary had to be capped (a liar or a broken node). */
  suspect: number
  kids?: KidEntry[]
}

/** What a count-only update carries (HereIsMyAudience with `counts`): the rest of a summary is
 * absent on the wire, read as zero, and the parent keeps what it last had (withCounts). */
export type AudienceCounts = Pick<AudienceSummary, 'viewers' | 'byDepth'> & { suspect?: number }

/** The counts alone of a summary, as a counts message carries them (`suspect` only when not 0). */
export function countsOf({ viewers, byDepth, suspect }: Pick<AudienceSummary, 'viewers' | 'byDepth' | 'suspect'>): AudienceCounts {
  return suspect > 0 ? { viewers, byDepth, suspect } : { viewers, byDepth }
}

/** One epoch's delays as they travel: [epoch, first bucket, chunks in it and in each next bucket].
 * Dense from the first non-empty bucket to the last: the histograms near the source are wide (40-50
 * buckets of 92) and a summary there was 2.9 KB, most of it [bucket, chunks] pairs; a run costs a
 * number per bucket instead of a pair. */
export type EpochRun = [number, number, number[]]
export type EpochDelays = EpochRun[]

/** A sparse, sorted histogram as [first bucket, dense counts] (empty: [0, []]). */
export function toRun(h: Array<[number, number]>): [number, number[]] {
  if (h.length === 0) return [0, []]
  const first = h[0][0]
  const counts = new Array<number>(h[h.length - 1][0] - first + 1).fill(0)
  for (const [i, n] of h) counts[i - first] += n
  return [first, counts]
}

/** A run's non-empty buckets as [bucket, chunks] pairs. */
export function fromRun(first: number, counts: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let j = 0; j < counts.length; j++) if (counts[j] !== 0) out.push([first + j, counts[j]])
  return out
}

/** [none, cone, symmetric]. */
export type NatCounts = [number, number, number]
export const NAT_KINDS = ['none', 'cone', 'symmetric'] as const

export function emptySummary(): AudienceSummary {
  return { viewers: 0, byDepth: [], onTime: 0, late: 0, missed: 0, delay: [], stalls: 0, stallSeconds: 0, up: 0, down: 0, fromSource: 0, versions: {}, suspect: 0 }
}

/** The delay bucket of `ms`: the first whose upper bound is at least ms (the last takes the rest). */
export function delayBucket(ms: number): number {
  let lo = 0
  let hi = DELAY_BUCKETS_MS.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (DELAY_BUCKETS_MS[mid] >= ms) hi = mid
    else lo = mid + 1
  }
  return lo
}

/** Adds `b` to `a` (in place), `b`'s depths one level down: `b` is a child of `a`'s sender. */
export function mergeChild(a: AudienceSummary, b: AudienceSummary): AudienceSummary {
  a.viewers += b.viewers
  for (let d = 0; d < b.byDepth.length; d++) {
    const at = Math.min(MAX_DEPTHS - 1, d + 1)
    while (a.byDepth.length <= at) a.byDepth.push(0)
    a.byDepth[at] += b.byDepth[d]
  }
  a.onTime += b.onTime
  a.late += b.late
  a.missed += b.missed
  a.delay = addDelays(a.delay, b.delay)
  a.stalls += b.stalls
  a.stallSeconds += b.stallSeconds
  a.up += b.up
  a.down += b.down
  a.fromSource += b.fromSource
  for (const [v, n] of Object.entries(b.versions)) addVersion(a.versions, v, n)
  if (b.nat) a.nat = a.nat ? [a.nat[0] + b.nat[0], a.nat[1] + b.nat[1], a.nat[2] + b.nat[2]] : [...b.nat]
  a.suspect += b.suspect
  return a
}

/**
 * `s` (a full summary) with a newer count-only update applied: its viewers, depths and suspects.
 * When the subtree shrank, the departed viewers' share of the window's figures leaves with them
 * (every additive figure scaled by the ratio, rounded down), so the summary stays one that those
 * viewers could have produced: a stale full summary under a smaller count would break the
 * per-viewer caps one level up (versions above viewers, chunks above viewers' worth) and flag an
 * honest subtree as suspect. Shares (on-time, percentiles, offload) are unchanged by the scaling.
 */
export function withCounts(s: AudienceSummary, c: Pick<AudienceSummary, 'viewers' | 'byDepth' | 'suspect'>): AudienceSummary {
  const k = Math.min(1, c.viewers / s.viewers)
  const f = (n: number) => Math.floor(n * k)
  const versions: Record<string, number> = {}
  for (const [v, n] of Object.entries(s.versions)) if (f(n) > 0) versions[v] = f(n)
  return {
    ...s, viewers: c.viewers, byDepth: c.byDepth, suspect: Math.max(Math.min(s.suspect, c.viewers), c.suspect),
    onTime: f(s.onTime), late: f(s.late), missed: f(s.missed),
    delay: s.delay.map(([i, n]): [number, number] => [i, f(n)]).filter(([, n]) => n > 0),
    stalls: f(s.stalls), stallSeconds: Math.floor(s.stallSeconds * k * 1000) / 1000,
    up: f(s.up), down: f(s.down), fromSource: f(s.fromSource), versions,
    ...(s.nat ? { nat: s.nat.map(f) as NatCounts } : {}),
  }
}

function addDelays(a: Array<[number, number]>, b: Array<[number, number]>): Array<[number, number]> {
  const m = new Map(a)
  for (const [i, n] of b) m.set(i, (m.get(i) ?? 0) + n)
  return [...m].sort((x, y) => x[0] - y[0])
}

function addVersion(into: Record<string, number>, v: string, n: number): void {
  const key = Object.hasOwn(into, v) || Object.keys(into).length < MAX_VERSIONS ? v : 'other'
  into[key] = (into[key] ?? 0) + n
}

/** Delay percentile `p` (0..1) in ms from the histogram, interpolated inside its bucket. */
export function delayPercentile(s: Pick<AudienceSummary, 'delay'>, p: number): number | null {
  const total = s.delay.reduce((t, [, n]) => t + n, 0)
  if (total === 0) return null
  const rank = p * total
  let seen = 0
  for (const [i, n] of s.delay) {
    if (seen + n >= rank) {
      const lo = i === 0 ? 0 : DELAY_BUCKETS_MS[i - 1]
      return lo + (DELAY_BUCKETS_MS[i] - lo) * Math.max(0, Math.min(1, (rank - seen) / n))
    }
    seen += n
  }
  return DELAY_BUCKETS_MS[s.delay.at(-1)![0]]
}

type Obj = Record<string, unknown>

export interface SanitizeLimits {
  isAddress: (a: unknown) => boolean
  /** Chunks one viewer can have verified in a window: a parent passes about twice what it saw
   * itself, so a liar's delay histogram weighs no more than its (capped) viewers' share. */
  chunksPerViewer?: number
  /** Chunks the receiving node verified itself in its window: one honest viewer's weight. */
  oneViewerChunks?: number
}
/** Epochs before this are not the stream's: a claim of epoch 2^52 is garbage (ms since 1970 / EPOCH_MS). */
const MAX_EPOCH = 2 ** 40
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0)

/**
 * A summary from the wire, made safe: every count an integer within what `viewers` such viewers
 * could produce in a window, viewers within MAX_VIEWERS, depths and delays within their bucket
 * counts, versions and kids capped. Anything that had to be clamped marks the whole subtree as
 * suspect (the source shows it so), but the clamped figures are still counted: one liar cannot
 * hide its honest children by being dropped, nor inflate anything beyond its caps.
 */
export function sanitize(raw: unknown, limits: SanitizeLimits): AudienceSummary | undefined {
  const { isAddress } = limits
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined
  const r = raw as Obj
  let clamped = false
  const cap = (v: unknown, max: number): number => {
    if (v === undefined) return 0
    const n = Math.floor(num(v))
    if (n !== v || n > max) clamped = true
    return Math.min(n, max)
  }
  const claimed = cap(r.viewers, MAX_VIEWERS)
  if (claimed === 0) return undefined
  // The tree's shape bounds its size: the sender itself at depth 0, and no level more than
  // MAX_FANOUT times the one above it. A flat claim of a million children becomes MAX_FANOUT.
  const byDepth: number[] = []
  const levels = Array.isArray(r.byDepth) ? r.byDepth.slice(0, MAX_DEPTHS) : []
  if (!Array.isArray(r.byDepth) || r.byDepth.length > MAX_DEPTHS || num(levels[0]) !== 1) clamped = true
  let left = claimed
  let above = 1
  for (const [d, v] of levels.entries()) {
    // Depth 0 is the sender: one viewer, whatever the claim. The last entry holds every deeper
    // level, so only what is left of the claim bounds it (a deep honest chain would fail the
    // fan-out bound there, and its ancestors would lose viewers).
    const n = d === 0 ? 1 : Math.min(cap(v, d === MAX_DEPTHS - 1 ? left : above * MAX_FANOUT), left)
    if (n !== v) clamped = true
    byDepth.push(n)
    left -= n
    above = n
    if (left === 0 || n === 0) break
  }
  if (byDepth.length === 0) byDepth.push(1)
  if (left !== 0) clamped = true
  const viewers = byDepth.reduce((t, n) => t + n, 0)
  const chunks = viewers * (limits.chunksPerViewer ?? MAX_CHUNKS_PER_VIEWER)
  const bytes = viewers * MAX_BYTES_PER_VIEWER
  // A histogram of at most `budget` chunks, one entry per bucket, sorted. Over the budget is a lie
  // (flagged) unless `trimOver`: then it is only cut to it.
  const histogram = (raw: unknown, budget: number, trimOver = false): Array<[number, number]> => {
    const out: Array<[number, number]> = []
    if (!Array.isArray(raw)) { if (raw !== undefined) clamped = true; return out }
    const seen = new Set<number>()
    for (const e of raw.slice(0, DELAY_BUCKETS_MS.length)) {
      if (!Array.isArray(e) || e.length !== 2) { clamped = true; continue }
      const i = cap(e[0], DELAY_BUCKETS_MS.length - 1)
      if (seen.has(i)) { clamped = true; continue }
      seen.add(i)
      const n = Math.min(cap(e[1], trimOver ? Number.MAX_SAFE_INTEGER : budget), budget)
      if (n !== e[1] && !(trimOver && n === budget)) clamped = true
      budget -= n
      if (n > 0) out.push([i, n])
    }
    if (raw.length > DELAY_BUCKETS_MS.length) clamped = true
    return out.sort((x, y) => x[0] - y[0])
  }
  const delay = histogram(r.delay, chunks)
  // An epoch's worth of chunks per viewer, from the window's (which carries a margin of 2).
  const perEpoch = (perWindow: number) => Math.max(1, Math.ceil((perWindow * EPOCH_MS) / WINDOW_MS))
  let fresh: EpochDelays | undefined
  if (r.fresh !== undefined) {
    fresh = []
    const raw = Array.isArray(r.fresh) ? r.fresh : []
    if (!Array.isArray(r.fresh) || raw.length > MAX_EPOCHS) clamped = true
    const seen = new Set<number>()
    for (const e of raw.slice(0, MAX_EPOCHS)) {
      if (!Array.isArray(e) || e.length !== 3 || !Array.isArray(e[2])) { clamped = true; continue }
      const epoch = cap(e[0], MAX_EPOCH)
      if (seen.has(epoch)) { clamped = true; continue }
      seen.add(epoch)
      // Trimmed, not flagged: the delays a node sends up are those its subtree verified since its
      // last summary, and a subtree that shrank in between (a child moved away) honestly carries
      // more viewers' delays than it now has (seed 2 of the simulator flagged 2 honest viewers so).
      // The parent's sum for each child and epoch is capped the same way (AudienceReporter).
      const first = cap(e[1], DELAY_BUCKETS_MS.length - 1)
      const counts = (e[2] as unknown[]).slice(0, DELAY_BUCKETS_MS.length - first)
      if (counts.length < e[2].length) clamped = true
      const h = histogram(counts.map((n, j) => [first + j, n]).filter(([, n]) => n !== 0), perEpoch(chunks), true)
      if (h.length) fresh.push([epoch, ...toRun(h)])
    }
  }
  const versions: Record<string, number> = {}
  if (typeof r.versions === 'object' && r.versions !== null && !Array.isArray(r.versions)) {
    const entries = Object.entries(r.versions as Obj)
    if (entries.length > MAX_VERSIONS + 1) clamped = true
    for (const [v, n] of entries.slice(0, MAX_VERSIONS + 1)) if (VERSION.test(v)) addVersion(versions, v, cap(n, viewers))
  }
  const s: AudienceSummary = {
    viewers, byDepth,
    onTime: cap(r.onTime, chunks), late: cap(r.late, chunks), missed: cap(r.missed, chunks), delay,
    stalls: cap(r.stalls, viewers * MAX_STALLS_PER_VIEWER),
    stallSeconds: Math.min(num(r.stallSeconds), viewers * (WINDOW_MS / 1000)),
    up: cap(r.up, bytes), down: cap(r.down, bytes), fromSource: cap(r.fromSource, bytes),
    versions, suspect: cap(r.suspect, viewers),
  }
  if (s.fromSource > s.down) { clamped = true; s.fromSource = s.down }
  if (r.nat !== undefined) {
    // Each kind within the viewers, and all three together too.
    const raw = Array.isArray(r.nat) ? r.nat.slice(0, 3) : []
    if (raw.length !== 3 || !Array.isArray(r.nat) || r.nat.length !== 3) clamped = true
    let left = viewers
    const nat = [0, 1, 2].map((i) => { const n = Math.min(cap(raw[i], viewers), left); if (n !== raw[i]) clamped = true; left -= n; return n }) as NatCounts
    if (nat.some((n) => n > 0)) s.nat = nat
  }
  if (s.onTime + s.late + s.missed > chunks) clamped = true
  // Flagged whole on its way here (a parent's check, or the decoder's with looser limits): trimmed
  // again with ours.
  if (clamped || (s.suspect >= viewers && s.suspect > 0)) {
    // A summary that lied somewhere: its chunk figures weigh no more than one viewer's, so absurd
    // delays from a liar claiming many viewers cannot drown its honest neighbours' percentiles.
    // One viewer's is what the receiving node verified itself in its window, when it knows (the
    // stream's production estimate in chunksPerViewer ran about twice that, letting a liar's
    // absurd delays weigh as two viewers'); else half of chunksPerViewer, which carries a margin of 2.
    const one = Math.min(limits.oneViewerChunks ?? Infinity, Math.ceil((limits.chunksPerViewer ?? MAX_CHUNKS_PER_VIEWER) / 2))
    s.onTime = Math.min(s.onTime, one)
    s.late = Math.min(s.late, one - s.onTime)
    s.missed = Math.min(s.missed, one - s.onTime - s.late)
    s.delay = within(s.delay, one)
    if (fresh) fresh = fresh.map(([e, first, counts]): EpochRun => [e, ...toRun(within(fromRun(first, counts), perEpoch(one)))]).filter(([, , counts]) => counts.length > 0)
  }
  if (fresh?.length) s.fresh = fresh
  const kids = kidList(r.kids, viewers, isAddress, 0)
  if (kids) s.kids = kids
  if (clamped) s.suspect = viewers
  return s
}

/** The histogram's first `total` chunks, lowest buckets first. */
export function within(h: Array<[number, number]>, total: number): Array<[number, number]> {
  let left = total
  return h.map(([i, n]): [number, number] => { const k = Math.min(n, left); left -= k; return [i, k] }).filter(([, n]) => n > 0)
}

function kidList(v: unknown, viewers: number, isAddress: (a: unknown) => boolean, level: number): KidEntry[] | undefined {
  if (!Array.isArray(v)) return undefined
  const out: KidEntry[] = []
  let grandkids = 0
  for (const e of v.slice(0, MAX_KIDS)) {
    if (typeof e !== 'object' || e === null || !isAddress((e as Obj).a)) continue
    const k = e as Obj
    const entry: KidEntry = { a: k.a as string, v: Math.min(Math.floor(num(k.v)), viewers), h: Math.min(1, num(k.h)) }
    const suspect = Math.min(Math.floor(num(k.s)), entry.v)
    if (suspect > 0) entry.s = suspect
    if (level === 0) {
      const sub = kidList(k.k, entry.v, isAddress, 1)?.slice(0, MAX_GRANDKIDS - grandkids)
      if (sub?.length) { entry.k = sub; grandkids += sub.length }
    }
    out.push(entry)
  }
  return out
}

/** On-time share of the chunks a summary counted (1 when none were due). */
export function health(s: Pick<AudienceSummary, 'onTime' | 'late' | 'missed'>): number {
  const due = s.onTime + s.late + s.missed
  return due === 0 ? 1 : s.onTime / due
}
