// Where ingest delivers a stream. The store's StreamLog implements it (hash, sign, persist); tests
// use an in-memory one. Calls are made one at a time, in order: the next call starts only after the
// previous promise resolved, so a slow sink slows the reading of ffmpeg's output (backpressure),
// never the encoder.

import type { MediaFormat } from '../store/stream-types.ts'

export interface IngestInfo {
  format: MediaFormat
  /** Byte range of the fMP4 init segment in LOG coordinates, or null for MPEG-TS. */
  init: { offset: number; length: number } | null
  /** Seconds, as the playlist's #EXT-X-TARGETDURATION. */
  targetDuration: number
}

/** One HLS segment, as a byte range of the log. */
export interface IngestSegment {
  offset: number
  length: number
  /** Seconds. */
  duration: number
  /** PROGRAM-DATE-TIME, ms since epoch. */
  pdt: number
  /** True for the first segment after an encoder restart. */
  discontinuity: boolean
  /** Low latency: this range is one LL-HLS part of a segment; absent, it is a whole segment. */
  part?: { index: number; independent: boolean }
}

export interface IngestSink {
  /** Called once, before the first append. */
  setInfo(info: IngestInfo): Promise<void>
  /** Log bytes, in order. */
  append(bytes: Buffer): Promise<void>
  /** Only called once [offset, offset + length) has been appended. */
  addSegment(seg: IngestSegment): Promise<void>
  /** No more calls follow. */
  end(): Promise<void>
}
