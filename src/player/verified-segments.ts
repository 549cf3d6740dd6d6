// Which segments a player may be offered: only those whose every byte matched its signed hash.
import type { SegmentRecord, StreamInfo, StreamLogReader } from '../store/stream-types.ts'
import { groupParts, hasParts } from './playlist-parts.ts'

/** The newest contiguous run of segments whose byte ranges are all verified, oldest first, at most
 * `limit` long (the newest ones), none below `floor`. A missing record or unverified byte is a
 * hole that ends the run. */
export function verifiedSegments(log: StreamLogReader, limit = Infinity, floor = 0): SegmentRecord[] {
  const run: SegmentRecord[] = []
  for (let n = log.segmentCount() - 1; n >= floor && run.length < limit; n--) {
    const s = playable(log, n)
    if (s) run.push(s)
    else if (run.length > 0) break
  }
  return run.reverse()
}

function playable(log: StreamLogReader, n: number): SegmentRecord | null {
  const s = log.segment(n)
  if (!s || s.n !== n || !Number.isSafeInteger(s.offset) || s.offset < 0 || !Number.isSafeInteger(s.length) ||
      s.length <= 0 || !Number.isFinite(s.duration) || s.duration <= 0) return null
  if (!log.hasRange(s.offset, s.length)) return null
  // A later part of a segment: the padding between it and the previous part lies inside the
  // segment's byte range, so it must be verified too before the segment can be listed whole.
  const prev = s.part && s.part.index > 0 ? log.segment(n - 1) : null
  if (prev && prev.offset + prev.length < s.offset && !log.hasRange(prev.offset + prev.length, s.offset - prev.offset - prev.length)) return null
  return s
}

export interface PlayableRun {
  info: StreamInfo
  segments: SegmentRecord[]
  /** The stream ended and `segments` reaches its last segment: the playlist is final. */
  ended: boolean
}

/** What a playlist for this log lists now, or null while the stream's signed info is unknown:
 * its newest `window` verified segments, none below `floor` (the first sequence an earlier answer
 * listed, so the playlist never moves back), live or ended. */
export function playableRun(log: StreamLogReader, window: number, floor = 0): PlayableRun | null {
  const info = log.info()
  if (!info) return null
  const head = log.head()
  const initReady = !info.init || log.hasRange(info.init.offset, info.init.length)
  const segments = initReady ? verifiedSegments(log, window, floor) : []
  const last = segments.at(-1)
  const ended = head !== null && head.ended && last !== undefined &&
    last.n === Math.max(head.segments, log.segmentCount()) - 1
  return { info, segments, ended }
}

/** What a player page can start on at once: 'low' (LL-HLS parts) or 'normal' once the playlist
 * lists a complete verified segment (hls.js gives up on a live playlist without one), else null
 * (the page polls until it does). Told in the page, it saves a new viewer a playlist round trip
 * before hls.js even starts (issue #14, first frame). `records`: how many to look at. */
export function playableStart(log: StreamLogReader, records: number): 'low' | 'normal' | null {
  const run = playableRun(log, records)
  if (!run || run.segments.length === 0) return null
  if (!hasParts(run.segments)) return 'normal'
  return groupParts(run.segments, run.ended).some((s) => s.complete) ? 'low' : null
}
