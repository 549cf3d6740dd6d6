// The one validator of a stream record's fields, wherever the record comes from: the wire decoder
// (mesh/messages.ts), the journal loader and verify.ts all call these, so a record is well-formed
// under one set of limits everywhere. Shape, primitive types, sane ranges and canonical base64 of
// the right length; never the signature (verify.ts) and never throws (the decoder calls it on the
// output of JSON.parse).
import { HASH_BYTES, fromBase64 } from './hashes.ts'
import { SIGNATURE_BYTES } from './keys.ts'
import { BLOCK_SIZE, CHUNK_SIZE } from './stream-types.ts'
import type { ChunkRecord, SegmentRecord, StreamHead, StreamInfo } from './stream-types.ts'

/** 2^32 chunks of 16 KiB is 64 TiB: far past any live stream, and keeps every offset a safe integer. */
export const MAX_CHUNK_INDEX = 2 ** 32 - 1
export const MAX_STREAM_BYTES = (MAX_CHUNK_INDEX + 1) * CHUNK_SIZE
export const MAX_SEGMENT_INDEX = 2 ** 32 - 1
/** HLS segments are seconds long; ten minutes bounds any sane encoder setting. */
export const MAX_SEGMENT_SECONDS = 600
/** LL-HLS parts in one segment: a keyframe every 64 parts of 200 ms is already 12.8 s. */
export const MAX_PARTS_PER_SEGMENT = 64
/** A part is a fraction of a segment; RFC 8216bis wants them well under the target duration. */
export const MAX_PART_SECONDS = 10
/** An fMP4 init segment is a few KiB; 16 MiB bounds it without guessing codecs. */
export const MAX_INIT_BYTES = 16 * 1024 * 1024
/** A stream id is `stream/<64 hex>/<name of at most 64 chars>`: under 140 characters. */
const MAX_ID_CHARS = 256

type Obj = Record<string, unknown>

const obj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x)
const isIndex = (x: unknown, max: number): x is number => Number.isSafeInteger(x) && (x as number) >= 0 && (x as number) <= max
const isTime = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0
const isHash = (x: unknown): x is string => fromBase64(x, HASH_BYTES) !== null
const isSig = (x: unknown): x is string => fromBase64(x, SIGNATURE_BYTES) !== null
const isId = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= MAX_ID_CHARS

/** Blocks a chunk of `length` bytes is cut into (the last one may be short). */
export const blocksIn = (length: number): number => Math.ceil(length / BLOCK_SIZE)

/** Runs a check on a plain object; a hostile getter or proxy (JSON never makes one) is a problem, not a throw. */
function checked(x: unknown, what: string, check: (o: Obj) => string | null): string | null {
  if (!obj(x)) return `malformed ${what}`
  try {
    return check(x)
  } catch {
    return `malformed ${what}`
  }
}

export function chunkRecordProblem(x: unknown): string | null {
  return checked(x, 'chunk record', (r) => {
    if (!isIndex(r.n, MAX_CHUNK_INDEX)) return 'bad chunk index'
    if (!Number.isSafeInteger(r.length) || (r.length as number) < 1 || (r.length as number) > CHUNK_SIZE) return 'bad chunk length'
    // One BLAKE3 per 4096-byte block, so every block is checked (and its sender charged) on arrival.
    if (!Array.isArray(r.blocks) || r.blocks.length !== blocksIn(r.length as number) || !r.blocks.every(isHash)) return 'bad chunk block hashes'
    if (!isHash(r.sha256)) return 'bad chunk hash'
    if (!isTime(r.time)) return 'bad chunk time'
    if (!isSig(r.sig)) return 'bad chunk signature encoding'
    return null
  })
}

export function segmentRecordProblem(x: unknown): string | null {
  return checked(x, 'segment record', (r) => {
    if (!isIndex(r.n, MAX_SEGMENT_INDEX)) return 'bad segment index'
    if (!Number.isSafeInteger(r.offset) || (r.offset as number) < 0) return 'bad segment offset'
    if (!Number.isSafeInteger(r.length) || (r.length as number) < 1 || (r.offset as number) + (r.length as number) > MAX_STREAM_BYTES) return 'bad segment length'
    if (typeof r.duration !== 'number' || !(r.duration > 0 && r.duration <= MAX_SEGMENT_SECONDS)) return 'bad segment duration'
    if (typeof r.pdt !== 'number' || !(Number.isFinite(r.pdt) && r.pdt >= 0)) return 'bad segment pdt'
    if (typeof r.discontinuity !== 'boolean') return 'bad segment discontinuity'
    if (r.part !== undefined) {
      const p = partProblem(r.part, r.duration as number)
      if (p) return p
    }
    if (!isSig(r.sig)) return 'bad segment signature encoding'
    return null
  })
}

function partProblem(p: unknown, duration: number): string | null {
  if (!obj(p)) return 'bad part position'
  if (!isIndex(p.msn, MAX_SEGMENT_INDEX)) return 'bad part media sequence'
  if (!isIndex(p.index, MAX_PARTS_PER_SEGMENT - 1)) return 'bad part index'
  if (typeof p.independent !== 'boolean') return 'bad part independent flag'
  if (duration > MAX_PART_SECONDS) return 'part longer than a part may be'
  return null
}

export function streamHeadProblem(x: unknown): string | null {
  return checked(x, 'head', (h) => {
    if (!isId(h.id)) return 'bad head id'
    if (!isIndex(h.chunks, MAX_CHUNK_INDEX + 1)) return 'bad head chunk count'
    if (!Number.isSafeInteger(h.length) || (h.length as number) < 0 || (h.length as number) > MAX_STREAM_BYTES) return 'bad head length'
    if (typeof h.ended !== 'boolean') return 'bad head ended flag'
    // Only an ended stream may finish with a short chunk; while live every chunk is full.
    if (Math.ceil((h.length as number) / CHUNK_SIZE) !== h.chunks) return 'head length disagrees with chunk count'
    if (!h.ended && h.length !== (h.chunks as number) * CHUNK_SIZE) return 'live head with a short chunk'
    if (!isIndex(h.segments, MAX_SEGMENT_INDEX + 1)) return 'bad head segment count'
    if (!isTime(h.time)) return 'bad head time'
    if (!isSig(h.sig)) return 'bad head signature encoding'
    return null
  })
}

export function streamInfoProblem(x: unknown): string | null {
  return checked(x, 'info', (i) => {
    if (!isId(i.id)) return 'bad info id'
    if (i.format !== 'ts' && i.format !== 'fmp4') return 'bad format'
    if (i.init !== null) {
      if (!obj(i.init)) return 'bad init range'
      const { offset, length } = i.init
      if (!Number.isSafeInteger(offset) || (offset as number) < 0 || (offset as number) > MAX_STREAM_BYTES) return 'bad init offset'
      if (!Number.isSafeInteger(length) || (length as number) < 1 || (length as number) > MAX_INIT_BYTES) return 'bad init length'
    }
    if (typeof i.targetDuration !== 'number' || !(i.targetDuration > 0 && i.targetDuration <= MAX_SEGMENT_SECONDS)) return 'bad target duration'
    if (!isTime(i.created)) return 'bad created time'
    if (!isSig(i.sig)) return 'bad info signature encoding'
    return null
  })
}

export const isChunkRecordShape = (x: unknown): x is ChunkRecord => chunkRecordProblem(x) === null
export const isSegmentRecordShape = (x: unknown): x is SegmentRecord => segmentRecordProblem(x) === null
export const isStreamHeadShape = (x: unknown): x is StreamHead => streamHeadProblem(x) === null
export const isStreamInfoShape = (x: unknown): x is StreamInfo => streamInfoProblem(x) === null

/** Copies only the known fields, so extra keys from a peer never reach the journal or memory. */
export function pickChunkRecord(r: ChunkRecord): ChunkRecord {
  return { n: r.n, length: r.length, blocks: [...r.blocks], sha256: r.sha256, time: r.time, sig: r.sig }
}
export function pickSegmentRecord(r: SegmentRecord): SegmentRecord {
  const picked: SegmentRecord = { n: r.n, offset: r.offset, length: r.length, duration: r.duration, pdt: r.pdt, discontinuity: r.discontinuity, sig: r.sig }
  if (r.part) picked.part = { msn: r.part.msn, index: r.part.index, independent: r.part.independent }
  return picked
}
export function pickStreamHead(h: StreamHead): StreamHead {
  return { id: h.id, chunks: h.chunks, length: h.length, segments: h.segments, time: h.time, ended: h.ended, sig: h.sig }
}
export function pickStreamInfo(i: StreamInfo): StreamInfo {
  const init = i.init === null ? null : { offset: i.init.offset, length: i.init.length }
  return { id: i.id, format: i.format, init, targetDuration: i.targetDuration, created: i.created, sig: i.sig }
}
