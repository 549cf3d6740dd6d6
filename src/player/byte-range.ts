// HTTP Range requests against a stream log: parse the header (pure), then decide which verified
// bytes answer it. A player may only ever receive bytes that matched their signed hashes, so a
// range touching an unverified byte is refused rather than served short or padded.
import { CHUNK_SIZE, type StreamLogReader } from '../store/stream-types.ts'

export type RangeRequest =
  | { kind: 'none' }
  /** `bytes=start-end` (end inclusive) or `bytes=start-` (end null). */
  | { kind: 'range'; start: number; end: number | null }
  /** `bytes=-length`: the last `length` bytes. */
  | { kind: 'suffix'; length: number }
  | { kind: 'invalid'; reason: string }

/** Longest decimal we accept in a range: 15 digits stay exact as a JS number. */
const MAX_RANGE_DIGITS = 15

export function parseRangeHeader(header: string | undefined): RangeRequest {
  if (header === undefined) return { kind: 'none' }
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (!m) return { kind: 'invalid', reason: header.includes(',') ? 'multiple ranges are not supported' : 'malformed range' }
  const [, a, b] = m
  if (a.length > MAX_RANGE_DIGITS || b.length > MAX_RANGE_DIGITS) return { kind: 'invalid', reason: 'range too large' }
  if (a === '' && b === '') return { kind: 'invalid', reason: 'empty range' }
  if (a === '') {
    const length = Number(b)
    return length > 0 ? { kind: 'suffix', length } : { kind: 'invalid', reason: 'empty suffix range' }
  }
  const start = Number(a)
  const end = b === '' ? null : Number(b)
  if (end !== null && end < start) return { kind: 'invalid', reason: 'range ends before it starts' }
  return { kind: 'range', start, end }
}

export type RangeAnswer =
  /** Serve [start, end) with 200 (whole finished stream) or 206; `total` is null while live. */
  | { status: 200 | 206; start: number; end: number; total: number | null }
  | { status: 416; reason: string; total: number | null }

/** Which verified bytes answer `req`. Open and suffix ranges clamp to verified bytes; a closed
 * range must be verified in full (clamped to the length only once the stream has ended). */
export function answerRange(log: StreamLogReader, req: RangeRequest): RangeAnswer {
  const head = log.head()
  const total = head?.ended ? head.length : null
  const refuse = (reason: string): RangeAnswer => ({ status: 416, reason, total: head ? head.length : null })
  switch (req.kind) {
    case 'invalid':
      return refuse(req.reason)
    case 'none':
      // A live stream has no whole representation yet; players ask for byte ranges anyway.
      if (total === null) return refuse('stream is live: request a byte range')
      if (total === 0 || !log.hasRange(0, total)) return refuse('stream is not fully verified here')
      return { status: 200, start: 0, end: total, total }
    case 'suffix': {
      const run = newestVerifiedRun(log)
      if (!run) return refuse('no verified bytes')
      return { status: 206, start: Math.max(run.start, run.end - req.length), end: run.end, total }
    }
    case 'range': {
      if (req.end === null) {
        const end = verifiedEnd(log, req.start)
        return end > req.start ? { status: 206, start: req.start, end, total } : refuse('range start is not verified')
      }
      const end = Math.min(req.end + 1, total ?? Infinity)
      if (end <= req.start) return refuse('range starts past the end')
      return log.hasRange(req.start, end - req.start)
        ? { status: 206, start: req.start, end, total }
        : refuse('range includes unverified bytes')
    }
  }
}

/** End (exclusive) of the verified bytes contiguous from `offset`; `offset` itself when unverified. */
export function verifiedEnd(log: StreamLogReader, offset: number): number {
  let end = offset
  for (let c = Math.floor(offset / CHUNK_SIZE); log.hasChunk(c); c++) {
    const rec = log.chunkRecord(c)
    if (!rec || rec.length <= 0 || rec.length > CHUNK_SIZE) break
    end = c * CHUNK_SIZE + rec.length
    if (rec.length < CHUNK_SIZE) break // only a finished stream's last chunk is short
  }
  return Math.max(end, offset)
}

/** The contiguous verified bytes ending at the newest verified chunk, or null when none are. */
function newestVerifiedRun(log: StreamLogReader): { start: number; end: number } | null {
  let c = (log.head()?.chunks ?? 0) - 1
  while (c >= 0 && !log.hasChunk(c)) c--
  if (c < 0) return null
  const rec = log.chunkRecord(c)
  if (!rec) return null
  const end = c * CHUNK_SIZE + Math.min(rec.length, CHUNK_SIZE)
  while (c > 0 && log.hasChunk(c - 1)) c--
  return { start: c * CHUNK_SIZE, end }
}

/** Which bytes of a file of `size` bytes answer `req` (RFC 9110 section 14): the whole file, or
 * one range clamped to the end; a range starting past the end is unsatisfiable. */
export function answerFileRange(size: number, req: RangeRequest): RangeAnswer {
  switch (req.kind) {
    case 'invalid':
      return { status: 416, reason: req.reason, total: size }
    case 'none':
      return { status: 200, start: 0, end: size, total: size }
    case 'suffix':
      return size === 0 ? { status: 416, reason: 'empty file', total: size } : { status: 206, start: Math.max(0, size - req.length), end: size, total: size }
    case 'range': {
      if (req.start >= size) return { status: 416, reason: 'range starts past the end', total: size }
      return { status: 206, start: req.start, end: Math.min(size, (req.end ?? Infinity) + 1), total: size }
    }
  }
}
