// Writes the live HLS media playlist from signed segment records. Pure: no I/O, no clock.
//
// ffmpeg's single_file mode always says MEDIA-SEQUENCE:0, and hls.js freezes on a sliding window
// that never advances its sequence (see MEDIA.md), so we re-window here: the last `window`
// segments, MEDIA-SEQUENCE = n of the first one listed, DISCONTINUITY-SEQUENCE = how many
// discontinuities fell before it. Everything is one media file addressed by byte ranges.
//
// MEDIA-SEQUENCE never goes backwards, not even at the end: an ended stream keeps its last window
// and adds ENDLIST (listing the whole log there once took a player from 659 back to 0). The caller
// passes the lowest sequence it may list (`firstSequence`) so holes that fill in later cannot pull
// the window back either.
//
// Low latency (records with `part`, playlist-parts.ts): the same playlist, plus LL-HLS: each part as
// an EXT-X-PART byte range (verified bytes, like every segment), EXT-X-PART-INF, SERVER-CONTROL
// with CAN-BLOCK-RELOAD and PART-HOLD-BACK, and the segment still being written as parts only.
// Players without LL-HLS (FFmpeg, older hls.js) ignore those tags and play the complete segments.
// No EXT-X-PRELOAD-HINT: hls.js never requests an open-ended byte range, and a hint with a length
// would promise bytes whose length nobody knows until the part is written.
import type { SegmentRecord, StreamInfo } from '../store/stream-types.ts'
import { groupParts, hasParts, type PartedSegment } from './playlist-parts.ts'

/** Segments listed in a live playlist: hls.js starts about one target duration back from the edge,
 * so six segments leave room for a slow reload without letting the playlist grow with the stream. */
export const DEFAULT_PLAYLIST_WINDOW = 6
/** Segments whose parts are listed (RFC 8216bis: parts older than about three target durations go). */
export const PART_LISTED_SEGMENTS = 3
/** PART-HOLD-BACK in part targets: RFC 8216bis says at least 2, SHOULD be at least 3. */
export const DEFAULT_PART_HOLD_BACK_PARTS = 3

export interface LivePlaylistInput {
  info: Pick<StreamInfo, 'format' | 'init' | 'targetDuration'>
  /** Consecutive segments (n, n+1, ...), all of whose bytes are verified; the caller filters. */
  segments: readonly SegmentRecord[]
  /** True when the stream ended and `segments` reaches its last segment: the list is final. */
  ended: boolean
  window?: number
  /** URI of the media file, relative to the playlist; it must end in a media extension (.ts,
   * .m4s): FFmpeg's HLS demuxer (ffprobe, ffplay, mpv) refuses any other. */
  mediaUri: string
  /** URI of the fMP4 init segment (EXT-X-MAP), e.g. ending in .mp4; default mediaUri. */
  mapUri?: string
  /** MEDIA-SEQUENCE when no segment is listed: the sequence a previous answer reached. */
  firstSequence?: number
  /** Discontinuities among the segments before `segments[0]` (they set DISCONTINUITY-SEQUENCE). */
  discontinuitiesBefore?: number
  /** Low latency: PART-HOLD-BACK in part targets (default DEFAULT_PART_HOLD_BACK_PARTS). */
  partHoldBackParts?: number
}

export function buildLivePlaylist(input: LivePlaylistInput): string {
  const { mapUri, window } = checkInput(input)
  if (hasParts(input.segments)) return buildPartedPlaylist(input, mapUri, window)
  const { info, ended, mediaUri } = input

  const skipped = Math.max(0, input.segments.length - window)
  const listed = input.segments.slice(skipped)
  let discontinuities = input.discontinuitiesBefore ?? 0
  for (let i = 0; i < skipped; i++) if (input.segments[i].discontinuity) discontinuities++

  const longest = listed.length > 0 ? listed.reduce((m, s) => Math.max(m, s.duration), 0) : info.targetDuration
  const targetDuration = Number.isFinite(longest) ? Math.max(1, Math.ceil(longest)) : 1
  const fmp4 = info.format === 'fmp4'

  const lines = [
    '#EXTM3U',
    // EXT-X-BYTERANGE needs version 4; EXT-X-MAP in a media playlist needs version 6.
    `#EXT-X-VERSION:${fmp4 ? 6 : 4}`,
    `#EXT-X-TARGETDURATION:${targetDuration}`,
    `#EXT-X-MEDIA-SEQUENCE:${listed[0]?.n ?? input.firstSequence ?? 0}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuities}`,
    '#EXT-X-INDEPENDENT-SEGMENTS',
  ]
  if (fmp4 && info.init) lines.push(`#EXT-X-MAP:URI="${mapUri}",BYTERANGE="${info.init.length}@${info.init.offset}"`)
  for (const s of listed) {
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY')
    const pdt = isoDate(s.pdt)
    if (pdt) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${pdt}`)
    lines.push(`#EXTINF:${s.duration.toFixed(6)},`, `#EXT-X-BYTERANGE:${s.length}@${s.offset}`, mediaUri)
  }
  if (ended) lines.push('#EXT-X-ENDLIST')
  return lines.join('\n') + '\n'
}

/** The LL-HLS form: the records are parts, `window` complete segments plus the one in progress. */
function buildPartedPlaylist(input: LivePlaylistInput, mapUri: string, window: number): string {
  const { info, ended, mediaUri } = input
  const all = groupParts(input.segments, ended)
  const completeCount = all.filter((s) => s.complete).length
  const skip = Math.max(0, completeCount - window)
  const listed = all.slice(skip)
  let discontinuities = input.discontinuitiesBefore ?? 0
  for (const s of all.slice(0, skip)) if (s.parts[0].discontinuity) discontinuities++

  const parts = listed.flatMap((s) => s.parts)
  const partTarget = parts.length > 0 ? Math.ceil(Math.max(...parts.map((p) => p.duration)) * 1000) / 1000 : info.targetDuration
  const longest = listed.filter((s) => s.complete).reduce((m, s) => Math.max(m, duration(s)), 0)
  const targetDuration = Math.max(1, Math.ceil(longest || info.targetDuration))
  const holdBack = partTarget * (input.partHoldBackParts ?? DEFAULT_PART_HOLD_BACK_PARTS)
  const lines = [
    '#EXTM3U',
    // EXT-X-PART and SERVER-CONTROL are RFC 8216bis; version 6 already covers EXT-X-MAP and byte ranges.
    '#EXT-X-VERSION:6',
    `#EXT-X-TARGETDURATION:${targetDuration}`,
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${holdBack.toFixed(3)}`,
    `#EXT-X-PART-INF:PART-TARGET=${partTarget.toFixed(3)}`,
    `#EXT-X-MEDIA-SEQUENCE:${listed[0]?.msn ?? input.firstSequence ?? 0}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuities}`,
  ]
  if (listed.every((s) => s.parts[0].part?.independent)) lines.push('#EXT-X-INDEPENDENT-SEGMENTS')
  if (info.format === 'fmp4' && info.init) lines.push(`#EXT-X-MAP:URI="${mapUri}",BYTERANGE="${info.init.length}@${info.init.offset}"`)
  listed.forEach((s, i) => {
    const first = s.parts[0]
    if (first.discontinuity) lines.push('#EXT-X-DISCONTINUITY')
    const pdt = isoDate(first.pdt)
    if (pdt) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${pdt}`)
    if (!s.complete || i >= listed.length - PART_LISTED_SEGMENTS) {
      for (const p of s.parts) {
        lines.push(`#EXT-X-PART:DURATION=${p.duration.toFixed(5)},URI="${mediaUri}",BYTERANGE="${p.length}@${p.offset}"${p.part?.independent ? ',INDEPENDENT=YES' : ''}`)
      }
    }
    if (s.complete) {
      const last = s.parts.at(-1)!
      lines.push(`#EXTINF:${duration(s).toFixed(6)},`, `#EXT-X-BYTERANGE:${last.offset + last.length - first.offset}@${first.offset}`, mediaUri)
    }
  })
  if (ended) lines.push('#EXT-X-ENDLIST')
  return lines.join('\n') + '\n'
}

const duration = (s: PartedSegment): number => s.parts.reduce((sum, p) => sum + p.duration, 0)

/** The map URI and window the input implies; throws RangeError for input no playlist can carry. */
function checkInput(input: LivePlaylistInput): { mapUri: string; window: number } {
  const mapUri = input.mapUri ?? input.mediaUri
  const window = input.window ?? DEFAULT_PLAYLIST_WINDOW
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`playlist window must be a positive integer, got ${window}`)
  if (/["\r\n]/.test(input.mediaUri + mapUri)) throw new RangeError('media URIs must not contain quotes or line breaks')
  checkConsecutive(input.segments)
  return { mapUri, window }
}

function checkConsecutive(segments: readonly SegmentRecord[]): void {
  for (let i = 1; i < segments.length; i++) {
    if (segments[i].n !== segments[i - 1].n + 1) {
      throw new RangeError(`playlist segments must be consecutive: ${segments[i - 1].n} then ${segments[i].n}`)
    }
  }
}

/** ISO 8601 with milliseconds, or null for a time Date cannot represent. */
function isoDate(ms: number): string | null {
  const d = new Date(ms)
  return Number.isFinite(d.getTime()) ? d.toISOString() : null
}
