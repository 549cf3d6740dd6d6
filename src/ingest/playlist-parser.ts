// Pure parser for the playlists ffmpeg writes in single_file mode: every segment is an
// #EXT-X-BYTERANGE into one growing media file, fMP4's init is an #EXT-X-MAP BYTERANGE at its start.
// Garbage in gives `{ ok: false, error }`, never an exception (tail mode reads other programs' files).
//
// A long event playlist grows without end (24 h of 1 s segments is ~10 MB), so the parser can
// resume from a cursor returned by an earlier parse and only read the new lines.

export interface PlaylistSegment {
  uri: string
  offset: number
  length: number
  /** Seconds (#EXTINF). */
  duration: number
  /** ms since epoch: its own #EXT-X-PROGRAM-DATE-TIME, else extrapolated from the previous one; null if none seen yet. */
  pdt: number | null
  discontinuity: boolean
}

export interface PlaylistMap {
  uri: string
  offset: number
  length: number
}

export interface PlaylistHeader {
  version: number | null
  targetDuration: number | null
  mediaSequence: number
  map: PlaylistMap | null
}

/** Where a later parse of the same (grown) playlist can pick up. */
export interface ParseCursor {
  /** Character offset just past the last complete segment's URI line. */
  textOffset: number
  segmentCount: number
  header: PlaylistHeader
  lastUri: string | null
  lastEnd: number | null
  /** pdt + duration of the last segment, for extrapolation. */
  nextPdt: number | null
}

export interface ParsedPlaylist extends PlaylistHeader {
  /** Segments found in this parse (all of them, or those after the cursor when resuming). */
  segments: PlaylistSegment[]
  /** Index of segments[0] in the whole playlist. */
  firstIndex: number
  ended: boolean
  cursor: ParseCursor
}

export type ParseResult = { ok: true; playlist: ParsedPlaylist } | { ok: false; error: string }

interface Pending {
  duration: number | null
  range: { length: number; offset: number | null } | null
  pdt: number | null
  discontinuity: boolean
}

const emptyPending = (): Pending => ({ duration: null, range: null, pdt: null, discontinuity: false })

function parseByteRange (s: string): { length: number; offset: number | null } | null {
  const m = /^(\d{1,15})(?:@(\d{1,15}))?$/.exec(s.trim())
  if (!m) return null
  const length = Number(m[1])
  if (length <= 0) return null
  return { length, offset: m[2] === undefined ? null : Number(m[2]) }
}

/** Attribute list per RFC 8216 4.2: NAME=value or NAME="quoted", comma separated. */
function parseAttributes (s: string): Map<string, string> {
  const out = new Map<string, string>()
  const re = /([A-Z0-9-]+)=("[^"\r\n]*"|[^,]*)(?:,|$)/gy
  let m: RegExpExecArray | null
  while ((m = re.exec(s)) !== null && m[0].length > 0) {
    const v = m[2]
    out.set(m[1], v.startsWith('"') ? v.slice(1, -1) : v)
  }
  return out
}

function parseDate (s: string): number | null {
  // ffmpeg writes "+0000"; Date.parse accepts that and ISO "Z"/"+00:00".
  const t = Date.parse(s.trim())
  return Number.isFinite(t) ? t : null
}

export function parsePlaylist (text: string, from?: ParseCursor): ParseResult {
  if (typeof text !== 'string') return { ok: false, error: 'not a string' }
  const start = from?.textOffset ?? 0
  if (start > text.length) return { ok: false, error: 'cursor is past the end of the text' }
  if (!from && !/^\uFEFF?#EXTM3U[ \t]*(\r?\n|$)/.test(text)) return { ok: false, error: 'missing #EXTM3U' }

  const header: PlaylistHeader = from ? { ...from.header } : { version: null, targetDuration: null, mediaSequence: 0, map: null }
  const segments: PlaylistSegment[] = []
  let lastUri = from?.lastUri ?? null
  let lastEnd = from?.lastEnd ?? null
  let nextPdt = from?.nextPdt ?? null
  let cursorOffset = start
  let ended = false
  let pending = emptyPending()
  let pos = start
  let lineNo = 0

  while (pos < text.length) {
    let nl = text.indexOf('\n', pos)
    if (nl === -1) nl = text.length
    const line = text.slice(pos, nl).replace(/\r$/, '').trim()
    const lineEnd = Math.min(nl + 1, text.length)
    pos = lineEnd
    lineNo++
    if (line === '') continue
    const where = `line ${lineNo}${from ? ' after cursor' : ''}`

    if (!line.startsWith('#')) {
      if (pending.duration === null) return { ok: false, error: `${where}: segment URI without #EXTINF` }
      if (pending.range === null) return { ok: false, error: `${where}: segment without #EXT-X-BYTERANGE` }
      let offset = pending.range.offset
      if (offset === null) {
        // RFC 8216 4.3.2.2: no offset means "right after the previous sub-range of the same resource".
        if (lastUri !== line || lastEnd === null) return { ok: false, error: `${where}: byte range without offset and no previous range of ${line}` }
        offset = lastEnd
      }
      const pdt = pending.pdt ?? nextPdt
      segments.push({ uri: line, offset, length: pending.range.length, duration: pending.duration, pdt, discontinuity: pending.discontinuity })
      lastUri = line
      lastEnd = offset + pending.range.length
      nextPdt = pdt === null ? null : pdt + Math.round(pending.duration * 1000)
      pending = emptyPending()
      cursorOffset = lineEnd
      continue
    }

    const colon = line.indexOf(':')
    const tag = colon === -1 ? line : line.slice(0, colon)
    const value = colon === -1 ? '' : line.slice(colon + 1)
    switch (tag) {
      case '#EXTINF': {
        const d = Number(value.split(',')[0])
        if (!Number.isFinite(d) || d < 0) return { ok: false, error: `${where}: bad #EXTINF duration` }
        pending.duration = d
        break
      }
      case '#EXT-X-BYTERANGE': {
        const r = parseByteRange(value)
        if (!r) return { ok: false, error: `${where}: bad #EXT-X-BYTERANGE` }
        pending.range = r
        break
      }
      case '#EXT-X-PROGRAM-DATE-TIME': {
        const t = parseDate(value)
        if (t === null) return { ok: false, error: `${where}: bad #EXT-X-PROGRAM-DATE-TIME` }
        pending.pdt = t
        break
      }
      case '#EXT-X-DISCONTINUITY':
        pending.discontinuity = true
        break
      case '#EXT-X-ENDLIST':
        ended = true
        break
      case '#EXT-X-TARGETDURATION': {
        const t = Number(value)
        if (!Number.isInteger(t) || t < 0) return { ok: false, error: `${where}: bad #EXT-X-TARGETDURATION` }
        header.targetDuration = t
        break
      }
      case '#EXT-X-VERSION': {
        const v = Number(value)
        if (!Number.isInteger(v)) return { ok: false, error: `${where}: bad #EXT-X-VERSION` }
        header.version = v
        break
      }
      case '#EXT-X-MEDIA-SEQUENCE': {
        const v = Number(value)
        if (!Number.isSafeInteger(v) || v < 0) return { ok: false, error: `${where}: bad #EXT-X-MEDIA-SEQUENCE` }
        header.mediaSequence = v
        break
      }
      case '#EXT-X-MAP': {
        const attrs = parseAttributes(value)
        const uri = attrs.get('URI')
        const range = parseByteRange(attrs.get('BYTERANGE') ?? '')
        if (!uri) return { ok: false, error: `${where}: #EXT-X-MAP without URI` }
        if (!range) return { ok: false, error: `${where}: #EXT-X-MAP without a valid BYTERANGE (single-file playlists need one)` }
        header.map = { uri, offset: range.offset ?? 0, length: range.length }
        break
      }
      default:
        // Other tags (#EXTM3U, PLAYLIST-TYPE, INDEPENDENT-SEGMENTS, comments) carry nothing we use.
        break
    }
  }

  const cursor: ParseCursor = {
    textOffset: cursorOffset,
    segmentCount: (from?.segmentCount ?? 0) + segments.length,
    header: { ...header },
    lastUri,
    lastEnd,
    nextPdt,
  }
  return { ok: true, playlist: { ...header, segments, firstIndex: from?.segmentCount ?? 0, ended, cursor } }
}
