// How much of a live stream a node keeps on disk: everything (a source, by default), the newest
// span of stream time (`30m`, a viewer's default) or the newest span of bytes (`500MB`). Pure: the
// policy from a flag, and which log byte the kept part starts at given the newest segments.
import { CHUNK_SIZE, type SegmentRecord } from './stream-types.ts'

export type KeepPolicy =
  | { kind: 'all' }
  | { kind: 'time'; ms: number }
  | { kind: 'bytes'; bytes: number }

export const KEEP_ALL: KeepPolicy = { kind: 'all' }
/** A viewer's default: half an hour (about 380 MB at the default bitrate) lets a late player seek
 * back a while without the folder growing by 0.75 GB an hour forever. */
export const DEFAULT_VIEWER_KEEP = '30m'

/** 2 Mb/s: the default 1500k video plus audio and container overhead, rounded up. */
const TYPICAL_BYTES_PER_SECOND = 250_000
const UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const UNITS_BYTES: Record<string, number> = { kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 }
/** Less than this would not hold a player's live window (six segments) with room to spare. */
const MIN_KEEP_MS = 10_000
const MIN_KEEP_BYTES = 2 * 2 ** 20

/** `all`, a duration (`90s`, `30m`, `2h`, `1d`) or a size (`500MB`, `2GiB`), else a one-line error. */
export function parseKeep(text: string): { policy: KeepPolicy } | { error: string } {
  const s = text.trim().toLowerCase()
  if (s === 'all') return { policy: KEEP_ALL }
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/.exec(s)
  const bad = `--keep wants all, a duration like 30m or 2h, or a size like 500MB or 2GB; got ${JSON.stringify(text)}`
  if (!m) return { error: bad }
  const value = Number(m[1])
  if (m[2] in UNITS_MS) {
    const ms = value * UNITS_MS[m[2]]
    return ms >= MIN_KEEP_MS ? { policy: { kind: 'time', ms } } : { error: `--keep ${text} is under the minimum of 10s` }
  }
  if (m[2] in UNITS_BYTES) {
    const bytes = Math.floor(value * UNITS_BYTES[m[2]])
    return bytes >= MIN_KEEP_BYTES ? { policy: { kind: 'bytes', bytes } } : { error: `--keep ${text} is under the minimum of 2MiB` }
  }
  return { error: bad }
}

/** The log byte the kept part of the stream starts at (the first byte of its oldest segment), or
 * null when nothing falls outside it yet. `newest` yields the segment records held, newest first;
 * a segment older than the policy must be among them for anything to be cut, so a hole in the
 * index never cuts what the policy keeps. */
export function keepFrom(policy: KeepPolicy, newest: Iterable<SegmentRecord>): number | null {
  if (policy.kind === 'all') return null
  let top: SegmentRecord | null = null
  let oldestKept: SegmentRecord | null = null
  for (const s of newest) {
    top ??= s
    const kept = policy.kind === 'time'
      ? top.pdt + top.duration * 1000 - s.pdt <= policy.ms
      : top.offset + top.length - s.offset <= policy.bytes
    if (!kept) return oldestKept?.offset ?? null
    oldestKept = s
  }
  return null
}

/** Chunks per data piece for a window: about an eighth of it (at a typical 2 Mb/s for a time
 * window), so what lingers past the window is small, between 16 chunks (256 KiB) and 1024
 * (16 MiB, which keeps a 30 min window to about 25 open files). */
export function pieceChunksFor(policy: KeepPolicy): number | null {
  if (policy.kind === 'all') return null
  const bytes = policy.kind === 'bytes' ? policy.bytes : policy.ms / 1000 * TYPICAL_BYTES_PER_SECOND
  return Math.min(1024, Math.max(16, Math.floor(bytes / 8 / CHUNK_SIZE)))
}
