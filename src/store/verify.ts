// The only place that decides whether a stream record or chunk is valid. Pure functions: no I/O,
// no clock, no state beyond what is passed in. Three-valued verdicts (see stream-types.ts):
// reject is for what only a liar or a corrupted copy produces (bad signature, bad hash, insane
// fields); ignore is for honest but useless input (duplicates, stale heads).
import { StoreError } from './errors.ts'
import { HASH_BYTES, blake3, fromBase64, sha256, toBase64 } from './hashes.ts'
import { SIGNATURE_BYTES, verifySignature, type StreamKey } from './keys.ts'
import { isChunkRecordShape, isSegmentRecordShape, isStreamHeadShape, isStreamInfoShape } from './record-shape.ts'
import { chunkSigningBytes, headSigningBytes, infoSigningBytes, segmentSigningBytes } from './signing-bytes.ts'
import { parseStreamId } from './stream-id.ts'
import { CHUNK_SIZE, type ChunkRecord, type MediaFormat, type SegmentRecord, type StreamHead, type StreamId, type StreamInfo, type Verdict } from './stream-types.ts'

export { isChunkRecordShape, isSegmentRecordShape, isStreamHeadShape, isStreamInfoShape } from './record-shape.ts'

/** 2^32 chunks of 16 KiB is 64 TiB: far past any live stream, and keeps every offset a safe integer. */
export const MAX_CHUNK_INDEX = 2 ** 32 - 1
export const MAX_STREAM_BYTES = (MAX_CHUNK_INDEX + 1) * CHUNK_SIZE
export const MAX_SEGMENT_INDEX = 2 ** 32 - 1
/** HLS segments are seconds long; ten minutes bounds any sane encoder setting. */
export const MAX_SEGMENT_SECONDS = 600
/** An fMP4 init segment is a few KiB; 16 MiB bounds it without guessing codecs. */
export const MAX_INIT_BYTES = 16 * 1024 * 1024

export const ACCEPT: Verdict = Object.freeze({ result: 'accept' })
export const ignore = (reason: string): Verdict => ({ result: 'ignore', reason })
export const reject = (reason: string): Verdict => ({ result: 'reject', reason })

const isIndex = (x: number, max: number): boolean => Number.isSafeInteger(x) && x >= 0 && x <= max
const isTime = (x: number): boolean => Number.isSafeInteger(x) && x >= 0
const hasHash = (s: string): boolean => fromBase64(s, HASH_BYTES) !== null

function signatureOk(id: StreamId, msg: Buffer, sig: string): boolean {
  const parsed = parseStreamId(id)
  const raw = fromBase64(sig, SIGNATURE_BYTES)
  return parsed !== null && raw !== null && verifySignature(parsed.publicKeyHex, msg, raw)
}

function requireOwnKey(key: StreamKey, id: StreamId): void {
  if (parseStreamId(id)?.publicKeyHex !== key.publicKeyHex) {
    throw new StoreError('ERR_BAD_ID', `key ${key.publicKeyHex.slice(0, 8)}… does not own ${id}`)
  }
}

// ---- chunks ----

function chunkFieldsProblem(r: Omit<ChunkRecord, 'sig'>): string | null {
  if (!isIndex(r.n, MAX_CHUNK_INDEX)) return 'bad chunk index'
  if (!Number.isSafeInteger(r.length) || r.length < 1 || r.length > CHUNK_SIZE) return 'bad chunk length'
  if (!hasHash(r.blake3) || !hasHash(r.sha256)) return 'bad chunk hash'
  if (!isTime(r.time)) return 'bad chunk time'
  return null
}

export function signChunk(key: StreamKey, id: StreamId, n: number, bytes: Uint8Array, time: number): ChunkRecord {
  requireOwnKey(key, id)
  const r = { n, length: bytes.length, blake3: toBase64(blake3(bytes)), sha256: toBase64(sha256(bytes)), time }
  const problem = chunkFieldsProblem(r)
  if (problem) throw new StoreError('ERR_BAD_RECORD', `refusing to sign chunk: ${problem}`)
  return { ...r, sig: toBase64(key.sign(chunkSigningBytes(id, r))) }
}

export function verifyChunkRecord(id: StreamId, rec: unknown): Verdict {
  if (!isChunkRecordShape(rec)) return reject('malformed chunk record')
  const problem = chunkFieldsProblem(rec)
  if (problem) return reject(problem)
  if (!signatureOk(id, chunkSigningBytes(id, rec), rec.sig)) return reject('bad chunk signature')
  return ACCEPT
}

/** Bytes against an already verified record: length, SHA-256 and BLAKE3 must all match. */
export function verifyChunkBytes(rec: ChunkRecord, bytes: Uint8Array): Verdict {
  if (bytes.length !== rec.length) return reject('chunk length mismatch')
  if (toBase64(sha256(bytes)) !== rec.sha256) return reject('chunk sha256 mismatch')
  if (toBase64(blake3(bytes)) !== rec.blake3) return reject('chunk blake3 mismatch')
  return ACCEPT
}

// ---- segments ----

export type SegmentFields = Omit<SegmentRecord, 'sig'>

function segmentFieldsProblem(r: SegmentFields): string | null {
  if (!isIndex(r.n, MAX_SEGMENT_INDEX)) return 'bad segment index'
  if (!Number.isSafeInteger(r.offset) || r.offset < 0) return 'bad segment offset'
  if (!Number.isSafeInteger(r.length) || r.length < 1 || r.offset + r.length > MAX_STREAM_BYTES) return 'bad segment length'
  if (!(r.duration > 0 && r.duration <= MAX_SEGMENT_SECONDS)) return 'bad segment duration'
  if (!(Number.isFinite(r.pdt) && r.pdt >= 0)) return 'bad segment pdt'
  if (typeof r.discontinuity !== 'boolean') return 'bad segment discontinuity'
  return null
}

export function signSegment(key: StreamKey, id: StreamId, fields: SegmentFields): SegmentRecord {
  requireOwnKey(key, id)
  const r: SegmentFields = { n: fields.n, offset: fields.offset, length: fields.length, duration: fields.duration, pdt: fields.pdt, discontinuity: fields.discontinuity }
  const problem = segmentFieldsProblem(r)
  if (problem) throw new StoreError('ERR_BAD_RECORD', `refusing to sign segment: ${problem}`)
  return { ...r, sig: toBase64(key.sign(segmentSigningBytes(id, r))) }
}

export function verifySegment(id: StreamId, rec: unknown): Verdict {
  if (!isSegmentRecordShape(rec)) return reject('malformed segment record')
  const problem = segmentFieldsProblem(rec)
  if (problem) return reject(problem)
  if (!signatureOk(id, segmentSigningBytes(id, rec), rec.sig)) return reject('bad segment signature')
  return ACCEPT
}

// ---- heads ----

export type HeadFields = Omit<StreamHead, 'sig'>

function headFieldsProblem(h: HeadFields): string | null {
  if (!isIndex(h.chunks, MAX_CHUNK_INDEX + 1)) return 'bad head chunk count'
  if (!Number.isSafeInteger(h.length) || h.length < 0 || h.length > MAX_STREAM_BYTES) return 'bad head length'
  // Only an ended stream may finish with a short chunk; while live every chunk is full.
  if (Math.ceil(h.length / CHUNK_SIZE) !== h.chunks) return 'head length disagrees with chunk count'
  if (!h.ended && h.length !== h.chunks * CHUNK_SIZE) return 'live head with a short chunk'
  if (!isIndex(h.segments, MAX_SEGMENT_INDEX + 1)) return 'bad head segment count'
  if (!isTime(h.time)) return 'bad head time'
  return null
}

export function signHead(key: StreamKey, fields: HeadFields): StreamHead {
  requireOwnKey(key, fields.id)
  const h: HeadFields = { id: fields.id, chunks: fields.chunks, length: fields.length, segments: fields.segments, time: fields.time, ended: fields.ended }
  const problem = headFieldsProblem(h)
  if (problem) throw new StoreError('ERR_BAD_RECORD', `refusing to sign head: ${problem}`)
  return { ...h, sig: toBase64(key.sign(headSigningBytes(h))) }
}

/** A head only moves forward. `current` is the newest head already accepted for this stream. */
export function verifyHead(id: StreamId, head: unknown, current: StreamHead | null): Verdict {
  if (!isStreamHeadShape(head)) return reject('malformed head')
  if (head.id !== id) return reject('head for another stream')
  const problem = headFieldsProblem(head)
  if (problem) return reject(problem)
  if (!signatureOk(id, headSigningBytes(head), head.sig)) return reject('bad head signature')
  if (current === null) return ACCEPT
  if (head.chunks === current.chunks && head.length === current.length && head.segments === current.segments &&
      head.time === current.time && head.ended === current.ended) return ignore('duplicate')
  if (current.ended) return ignore('stream already ended')
  if (head.chunks < current.chunks || head.length < current.length || head.segments < current.segments ||
      head.time < current.time) return ignore('stale')
  return ACCEPT
}

// ---- info ----

export type InfoFields = Omit<StreamInfo, 'sig'>

function infoFieldsProblem(i: InfoFields): string | null {
  if (i.format !== 'ts' && i.format !== 'fmp4') return 'bad format'
  if (i.init !== null) {
    const { offset, length } = i.init
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > MAX_STREAM_BYTES) return 'bad init offset'
    if (!Number.isSafeInteger(length) || length < 1 || length > MAX_INIT_BYTES) return 'bad init length'
  }
  if (!(i.targetDuration > 0 && i.targetDuration <= MAX_SEGMENT_SECONDS)) return 'bad target duration'
  if (!isTime(i.created)) return 'bad created time'
  return null
}

export function signInfo(key: StreamKey, fields: { id: StreamId; format: MediaFormat; init: { offset: number; length: number } | null; targetDuration: number; created: number }): StreamInfo {
  requireOwnKey(key, fields.id)
  const init = fields.init === null ? null : { offset: fields.init.offset, length: fields.init.length }
  const i: InfoFields = { id: fields.id, format: fields.format, init, targetDuration: fields.targetDuration, created: fields.created }
  const problem = infoFieldsProblem(i)
  if (problem) throw new StoreError('ERR_BAD_RECORD', `refusing to sign info: ${problem}`)
  return { ...i, sig: toBase64(key.sign(infoSigningBytes(i))) }
}

export function verifyInfo(id: StreamId, info: unknown): Verdict {
  if (!isStreamInfoShape(info)) return reject('malformed info')
  if (info.id !== id) return reject('info for another stream')
  const problem = infoFieldsProblem(info)
  if (problem) return reject(problem)
  if (!signatureOk(id, infoSigningBytes(info), info.sig)) return reject('bad info signature')
  return ACCEPT
}
