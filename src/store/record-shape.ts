// Type guards for stream records arriving from anywhere (wire, journal). They check only shape
// and primitive types, never signatures, and never throw: the wire decoder calls them on the
// output of JSON.parse. Field sanity and signatures are verify.ts's job.
import type { ChunkRecord, SegmentRecord, StreamHead, StreamInfo } from './stream-types.ts'

/** Longest string field we look at: a 64-byte signature is 88 base64 chars, a stream id < 200. */
const MAX_FIELD_CHARS = 256

type Obj = Record<string, unknown>

function obj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}
function num(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x)
}
function str(x: unknown): x is string {
  return typeof x === 'string' && x.length <= MAX_FIELD_CHARS
}
function bool(x: unknown): x is boolean {
  return typeof x === 'boolean'
}

function guard<T>(check: (o: Obj) => boolean): (x: unknown) => x is T {
  return (x: unknown): x is T => {
    try {
      return obj(x) && check(x)
    } catch {
      return false // a hostile getter or proxy; JSON never produces one, but never throw anyway
    }
  }
}

export const isChunkRecordShape = guard<ChunkRecord>((o) =>
  num(o.n) && num(o.length) && str(o.blake3) && str(o.sha256) && num(o.time) && str(o.sig))

export const isSegmentRecordShape = guard<SegmentRecord>((o) =>
  num(o.n) && num(o.offset) && num(o.length) && num(o.duration) && num(o.pdt) &&
  bool(o.discontinuity) && str(o.sig))

export const isStreamHeadShape = guard<StreamHead>((o) =>
  str(o.id) && num(o.chunks) && num(o.length) && num(o.segments) && num(o.time) &&
  bool(o.ended) && str(o.sig))

export const isStreamInfoShape = guard<StreamInfo>((o) =>
  str(o.id) && (o.format === 'ts' || o.format === 'fmp4') &&
  (o.init === null || (obj(o.init) && num(o.init.offset) && num(o.init.length))) &&
  num(o.targetDuration) && num(o.created) && str(o.sig))

/** Copies only the known fields, so extra keys from a peer never reach the journal or memory. */
export function pickChunkRecord(r: ChunkRecord): ChunkRecord {
  return { n: r.n, length: r.length, blake3: r.blake3, sha256: r.sha256, time: r.time, sig: r.sig }
}
export function pickSegmentRecord(r: SegmentRecord): SegmentRecord {
  return { n: r.n, offset: r.offset, length: r.length, duration: r.duration, pdt: r.pdt, discontinuity: r.discontinuity, sig: r.sig }
}
export function pickStreamHead(h: StreamHead): StreamHead {
  return { id: h.id, chunks: h.chunks, length: h.length, segments: h.segments, time: h.time, ended: h.ended, sig: h.sig }
}
export function pickStreamInfo(i: StreamInfo): StreamInfo {
  const init = i.init === null ? null : { offset: i.init.offset, length: i.init.length }
  return { id: i.id, format: i.format, init, targetDuration: i.targetDuration, created: i.created, sig: i.sig }
}
