// The shapes of a live stream's signed records. The store owns them; mesh carries them as JSON;
// the player turns segment records into playlists. Binary fields are base64 with padding, as on the wire.

/** Bytes per chunk: four 4096-byte protocol blocks, so one chunk's hashes and signature cost
 * under 1.5 % of its bytes while a chunk still fills in under 70 ms at 2 Mb/s. */
export const CHUNK_SIZE = 16384
export const BLOCK_SIZE = 4096

/** `stream/<64 hex ed25519 public key>/<name>`; the name is 1..64 of [A-Za-z0-9._-]. */
export type StreamId = string

export type MediaFormat = 'ts' | 'fmp4'

/** Signed once per stream: what a viewer needs before the first segment. */
export interface StreamInfo {
  id: StreamId
  format: MediaFormat
  /** Byte range of the fMP4 init segment (EXT-X-MAP) inside the log, or null for MPEG-TS. */
  init: { offset: number; length: number } | null
  targetDuration: number
  /** Source wall clock (ms since epoch) when the stream was first created. */
  created: number
  sig: string
}

/** Signed per chunk n: covers bytes [n*CHUNK_SIZE, n*CHUNK_SIZE + length). Only the final chunk
 * of an ended stream may be shorter than CHUNK_SIZE. `time` is the source clock at publish.
 * `blocks` holds the BLAKE3 of each 4096-byte block (the last may be short), so a block is
 * checked the moment it arrives and a bad one is charged to the peer that sent it, even when the
 * chunk's blocks come from several peers; `sha256` covers the whole chunk. */
export interface ChunkRecord {
  n: number
  length: number
  blocks: string[]
  sha256: string
  time: number
  sig: string
}

/** Signed per HLS segment: a byte range of the log, its duration and program date time. */
export interface SegmentRecord {
  n: number
  offset: number
  length: number
  /** Seconds. */
  duration: number
  /** PROGRAM-DATE-TIME in ms since epoch. */
  pdt: number
  /** True when this segment follows an encoder restart (EXT-X-DISCONTINUITY before it). */
  discontinuity: boolean
  sig: string
}

/** Signed live edge: how many chunks and segments exist, and whether the stream has ended.
 * Heads only move forward; a head with fewer chunks or an older time than one we hold is stale. */
export interface StreamHead {
  id: StreamId
  chunks: number
  length: number
  segments: number
  time: number
  ended: boolean
  sig: string
}

/** What was wrong with a rejected record, block or chunk. The sender is charged by cause: an
 * insane field is not a forged signature, and junk bytes are not either. */
export type RejectCause = 'bad_field' | 'bad_signature' | 'bad_hash' | 'wrong_stream'
export const REJECT_CAUSES: readonly RejectCause[] = ['bad_field', 'bad_signature', 'bad_hash', 'wrong_stream']

/** Verification is three-valued: accept it, ignore it (duplicate, stale, not yet useful), or
 * reject it (bad field, hash or signature: charge the sender by `cause`). */
export type Verdict =
  | { result: 'accept' }
  | { result: 'ignore'; reason: string }
  | { result: 'reject'; reason: string; cause: RejectCause }

/** What a StreamLog offers its users (ingest appends, mesh puts and reads, player reads). */
export interface StreamLogReader {
  readonly id: StreamId
  info(): StreamInfo | null
  head(): StreamHead | null
  /** Number of segments in the signed index we hold (records may arrive before their bytes). */
  segmentCount(): number
  segment(n: number): SegmentRecord | null
  chunkRecord(n: number): ChunkRecord | null
  /** True when chunk n's bytes are stored and matched its signed record. */
  hasChunk(n: number): boolean
  /** True when every chunk overlapping [offset, offset+length) is verified. */
  hasRange(offset: number, length: number): boolean
  /** Verified bytes only; throws a StoreError (code ERR_NOT_VERIFIED) for any unverified byte. */
  read(offset: number, length: number): Promise<Buffer>
  /** Fires 'chunk' (n), 'segment' (SegmentRecord), 'head' (StreamHead), 'end' (). */
  on(event: 'chunk', fn: (n: number) => void): this
  on(event: 'segment', fn: (s: SegmentRecord) => void): this
  on(event: 'head', fn: (h: StreamHead) => void): this
  on(event: 'end', fn: () => void): this
  // off() mirrors on(): a single `(...args: never[])` signature cannot be met by EventEmitter.
  off(event: 'chunk', fn: (n: number) => void): this
  off(event: 'segment', fn: (s: SegmentRecord) => void): this
  off(event: 'head', fn: (h: StreamHead) => void): this
  off(event: 'end', fn: () => void): this
}
