// Decides whether a stream record or chunk is valid: field sanity through the one validator in
// record-shape.ts, then signatures and hashes here. Pure functions: no I/O, no clock, no state
// beyond what is passed in. Three-valued verdicts (see stream-types.ts):
// reject is for what only a liar or a corrupted copy produces (bad signature, bad hash, insane
// fields); ignore is for honest but useless input (duplicates, stale heads).
import { StoreError } from './errors.ts'
import { blake3, fromBase64, sha256, toBase64 } from './hashes.ts'
import { SIGNATURE_BYTES, verifySignature, type StreamKey } from './keys.ts'
import { blocksIn, chunkRecordProblem, segmentRecordProblem, streamHeadProblem, streamInfoProblem } from './record-shape.ts'
import { chunkSigningBytes, headSigningBytes, infoSigningBytes, segmentSigningBytes } from './signing-bytes.ts'
import { parseStreamId } from './stream-id.ts'
import { BLOCK_SIZE, type ChunkRecord, type MediaFormat, type RejectCause, type SegmentRecord, type StreamHead, type StreamId, type StreamInfo, type Verdict } from './stream-types.ts'

export { isChunkRecordShape, isSegmentRecordShape, isStreamHeadShape, isStreamInfoShape } from './record-shape.ts'
export { MAX_CHUNK_INDEX, MAX_INIT_BYTES, MAX_SEGMENT_INDEX, MAX_SEGMENT_SECONDS, MAX_STREAM_BYTES } from './record-shape.ts'

export const ACCEPT: Verdict = Object.freeze({ result: 'accept' })
export const ignore = (reason: string): Verdict => ({ result: 'ignore', reason })
export const reject = (reason: string, cause: RejectCause): Verdict => ({ result: 'reject', reason, cause })

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

/** Signs what passes the one validator, so a source can never publish a record its viewers reject. */
function signed<T extends object>(key: StreamKey, fields: T, problem: (x: unknown) => string | null, what: string, signingBytes: (f: T) => Buffer): T & { sig: string } {
  const sig = toBase64(key.sign(signingBytes(fields)))
  const rec = { ...fields, sig }
  const p = problem(rec)
  if (p) throw new StoreError('ERR_BAD_RECORD', `refusing to sign ${what}: ${p}`)
  return rec
}

// ---- chunks ----

/** The BLAKE3 of each 4096-byte block of a chunk, base64. */
function blockHashes(bytes: Uint8Array): string[] {
  const out: string[] = []
  for (let off = 0; off < bytes.length; off += BLOCK_SIZE) out.push(toBase64(blake3(bytes.subarray(off, off + BLOCK_SIZE))))
  return out
}

export function signChunk(key: StreamKey, id: StreamId, n: number, bytes: Uint8Array, time: number): ChunkRecord {
  requireOwnKey(key, id)
  const r = { n, length: bytes.length, blocks: blockHashes(bytes), sha256: toBase64(sha256(bytes)), time }
  return signed(key, r, chunkRecordProblem, 'chunk', (f) => chunkSigningBytes(id, f))
}

export function verifyChunkRecord(id: StreamId, rec: unknown): Verdict {
  const problem = chunkRecordProblem(rec)
  if (problem) return reject(problem, 'bad_field')
  const r = rec as ChunkRecord
  if (!signatureOk(id, chunkSigningBytes(id, r), r.sig)) return reject('bad chunk signature', 'bad_signature')
  return ACCEPT
}

/** Block `i` (its 4096-byte slot in the chunk) against an already verified record. */
export function verifyBlock(rec: ChunkRecord, i: number, bytes: Uint8Array): Verdict {
  if (!(Number.isSafeInteger(i) && i >= 0 && i < blocksIn(rec.length))) return reject('block outside the chunk', 'bad_hash')
  if (bytes.length !== Math.min(BLOCK_SIZE, rec.length - i * BLOCK_SIZE)) return reject('block length mismatch', 'bad_hash')
  if (toBase64(blake3(bytes)) !== rec.blocks[i]) return reject('block blake3 mismatch', 'bad_hash')
  return ACCEPT
}

/** Bytes against an already verified record: length, SHA-256 and every block's BLAKE3 must match. */
export function verifyChunkBytes(rec: ChunkRecord, bytes: Uint8Array): Verdict {
  if (bytes.length !== rec.length) return reject('chunk length mismatch', 'bad_hash')
  if (toBase64(sha256(bytes)) !== rec.sha256) return reject('chunk sha256 mismatch', 'bad_hash')
  for (let i = 0; i < rec.blocks.length; i++) {
    const v = verifyBlock(rec, i, bytes.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE))
    if (v.result !== 'accept') return v
  }
  return ACCEPT
}

// ---- segments ----

export type SegmentFields = Omit<SegmentRecord, 'sig'>

export function signSegment(key: StreamKey, id: StreamId, fields: SegmentFields): SegmentRecord {
  requireOwnKey(key, id)
  const r: SegmentFields = { n: fields.n, offset: fields.offset, length: fields.length, duration: fields.duration, pdt: fields.pdt, discontinuity: fields.discontinuity }
  if (fields.part) r.part = { msn: fields.part.msn, index: fields.part.index, independent: fields.part.independent }
  return signed(key, r, segmentRecordProblem, 'segment', (f) => segmentSigningBytes(id, f))
}

export function verifySegment(id: StreamId, rec: unknown): Verdict {
  const problem = segmentRecordProblem(rec)
  if (problem) return reject(problem, 'bad_field')
  const r = rec as SegmentRecord
  if (!signatureOk(id, segmentSigningBytes(id, r), r.sig)) return reject('bad segment signature', 'bad_signature')
  return ACCEPT
}

// ---- heads ----

export type HeadFields = Omit<StreamHead, 'sig'>

export function signHead(key: StreamKey, fields: HeadFields): StreamHead {
  requireOwnKey(key, fields.id)
  const h: HeadFields = { id: fields.id, chunks: fields.chunks, length: fields.length, segments: fields.segments, time: fields.time, ended: fields.ended }
  return signed(key, h, streamHeadProblem, 'head', headSigningBytes)
}

/** A head only moves forward. `current` is the newest head already accepted for this stream. */
export function verifyHead(id: StreamId, x: unknown, current: StreamHead | null): Verdict {
  const alone = verifyHeadAlone(id, x)
  return alone.result === 'accept' ? headAfter(x as StreamHead, current) : alone
}

/** A head on its own: its fields, its stream and its signature (what does not depend on the head
 * we hold, so the simulator verifies it once per head for the whole process). */
export function verifyHeadAlone(id: StreamId, x: unknown): Verdict {
  const problem = streamHeadProblem(x)
  if (problem) return reject(problem, 'bad_field')
  const head = x as StreamHead
  if (head.id !== id) return reject('head for another stream', 'wrong_stream')
  if (!signatureOk(id, headSigningBytes(head), head.sig)) return reject('bad head signature', 'bad_signature')
  return ACCEPT
}

/** A valid head against the one we hold: news, a duplicate, or stale. */
export function headAfter(head: StreamHead, current: StreamHead | null): Verdict {
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

export function signInfo(key: StreamKey, fields: { id: StreamId; format: MediaFormat; init: { offset: number; length: number } | null; targetDuration: number; created: number }): StreamInfo {
  requireOwnKey(key, fields.id)
  const init = fields.init === null ? null : { offset: fields.init.offset, length: fields.init.length }
  const i: InfoFields = { id: fields.id, format: fields.format, init, targetDuration: fields.targetDuration, created: fields.created }
  return signed(key, i, streamInfoProblem, 'info', infoSigningBytes)
}

export function verifyInfo(id: StreamId, x: unknown): Verdict {
  const problem = streamInfoProblem(x)
  if (problem) return reject(problem, 'bad_field')
  const info = x as StreamInfo
  if (info.id !== id) return reject('info for another stream', 'wrong_stream')
  if (!signatureOk(id, infoSigningBytes(info), info.sig)) return reject('bad info signature', 'bad_signature')
  return ACCEPT
}
