// Ingest into a source StreamLog: the log hashes, signs and persists what ffmpeg wrote.
//
// Segments end on chunk boundaries. ffmpeg's single-file HLS muxer writes each segment whole, at
// its end; a segment's last bytes would share a chunk with the next segment's first bytes, and that
// chunk is only signed once full, so nobody could verify (or play) a segment until the next one was
// written: one segment duration of extra latency on every viewer. So once a segment's bytes are all
// in and nothing follows them yet, the sink pads the log with zeros to the next chunk boundary and
// shifts later offsets by the padding. Segment and init records carry log offsets, so players
// never fetch the padding (about half a chunk per segment: a few percent of a 1.5 Mb/s stream).
//
// fMP4 pads with a `free` box instead of zeros: a low-latency segment's byte range spans its parts
// AND the padding after each of them (parts are padded so each is signed the moment it is written),
// and ISO BMFF readers (hls.js, FFmpeg) skip a free box where zeros would read as a broken box.
// That costs about half a chunk per part: at 1.5 Mb/s and 0.24 s parts, about 15 % more bytes.
import type { StreamLog } from '../store/stream-log.ts'
import { CHUNK_SIZE } from '../store/stream-types.ts'
import type { IngestSink } from './ingest-sink.ts'

export function streamLogSink(log: StreamLog): IngestSink {
  /** Bytes the ingest appended (its coordinates, from 0 on every start), and the log offset of
   * its byte 0 plus the padding since. A log reopened after a crash already holds bytes: the new
   * run's offsets start after them, or its segments would index the old run's bytes. */
  let appended = 0
  let shift = log.dataSize
  let fmp4 = false
  return {
    async setInfo(info) {
      fmp4 = info.format === 'fmp4'
      if (info.init) await log.setInit({ offset: info.init.offset + shift, length: info.init.length })
    },
    async append(bytes) {
      await log.append(bytes)
      appended += bytes.length
    },
    async addSegment(seg) {
      await log.addSegment({ ...seg, offset: seg.offset + shift })
      const tail = log.dataSize % CHUNK_SIZE
      // Bytes of the next segment already appended share the chunk: padding there would split them.
      if (seg.offset + seg.length !== appended || tail === 0) return
      const pad = fmp4 ? freeBox(CHUNK_SIZE - tail) : Buffer.alloc(CHUNK_SIZE - tail)
      await log.append(pad)
      shift += pad.length
    },
    async end() { await log.end() },
  }
}

/** An ISO BMFF `free` box of `want` bytes, or a chunk more when `want` is under a box header. */
export function freeBox(want: number): Buffer {
  const size = want < 8 ? want + CHUNK_SIZE : want
  const box = Buffer.alloc(size)
  box.writeUInt32BE(size, 0)
  box.write('free', 4, 'latin1')
  return box
}
