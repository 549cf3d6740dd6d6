// Low latency: turns signed part records (SegmentRecord with `part`, see stream-types.ts) into the
// HLS segments they make up. Pure. Records with the same `part.msn` are one segment; a segment is
// complete once a record of a later msn exists (the source started the next one) or the stream
// ended; the newest one is still being written, and only its parts are listed.
import type { SegmentRecord } from '../store/stream-types.ts'

export interface PartedSegment {
  msn: number
  parts: SegmentRecord[]
  complete: boolean
}

/** True when the records are LL-HLS parts (the source ran with --latency low). */
export const hasParts = (records: readonly SegmentRecord[]): boolean => records.some((r) => r.part !== undefined)

/** Consecutive part records into segments, oldest first. A leading segment whose first part is
 * missing (the window cut into it) is dropped: a player must not get a segment without its start. */
export function groupParts(records: readonly SegmentRecord[], ended: boolean): PartedSegment[] {
  const out: PartedSegment[] = []
  for (const r of records) {
    if (!r.part) continue
    const last = out.at(-1)
    if (last && last.msn === r.part.msn && last.parts.at(-1)!.part!.index + 1 === r.part.index) {
      last.parts.push(r)
      continue
    }
    if (last) last.complete = true
    if (r.part.index === 0) out.push({ msn: r.part.msn, parts: [r], complete: false })
  }
  const last = out.at(-1)
  if (last && ended) last.complete = true
  return out
}

/** The records a live playlist of `window` complete segments lists: from the first part of the
 * window-th newest complete segment to the newest part. Whole-segment records: the newest `window`. */
export function windowRecords(records: readonly SegmentRecord[], window: number, ended: boolean): SegmentRecord[] {
  if (!hasParts(records)) return records.slice(-window)
  const segments = groupParts(records, ended)
  const complete = segments.filter((s) => s.complete)
  const first = complete.length > window ? complete[complete.length - window] : segments[0]
  if (!first) return []
  return records.slice(records.indexOf(first.parts[0]))
}

/** What a blocking reload (`_HLS_msn=msn&_HLS_part=part`) waits for is in `records`: that part,
 * or with `part` null the whole segment `msn` (a later record exists, or the stream ended). */
export function hasPart(records: readonly SegmentRecord[], msn: number, part: number | null, ended: boolean): boolean {
  const last = records.at(-1)
  if (!last) return false
  const lastMsn = last.part?.msn ?? last.n
  if (lastMsn > msn) return true
  if (lastMsn < msn) return false
  if (part === null || !last.part) return ended
  return last.part.index >= part
}
