// The exact bytes each record's signature covers. Domain-separated (type and version first, then
// the stream id) so a signature for one record type or stream can never be replayed as another.
// Numbers are written with JavaScript's shortest round-trip form, which survives JSON unchanged.
// Changing any of these strings is a protocol change: bump the /v1 tag.
import type { ChunkRecord, SegmentRecord, StreamHead, StreamId, StreamInfo } from './stream-types.ts'

type Unsigned<T> = Omit<T, 'sig'>

function bytes(...parts: (string | number)[]): Buffer {
  return Buffer.from(parts.map(String).join('\n'), 'utf8')
}

export function chunkSigningBytes(id: StreamId, r: Unsigned<ChunkRecord>): Buffer {
  return bytes('cjp2p-stream/chunk/v2', id, r.n, r.length, r.blocks.join(','), r.sha256, r.time)
}

/** v1 for a whole segment; v2 (low latency) adds the part position, so a v1 signature can never
 * be passed off as a part or the other way round. */
export function segmentSigningBytes(id: StreamId, r: Unsigned<SegmentRecord>): Buffer {
  const v1 = [id, r.n, r.offset, r.length, r.duration, r.pdt, r.discontinuity ? 1 : 0]
  if (!r.part) return bytes('cjp2p-stream/segment/v1', ...v1)
  return bytes('cjp2p-stream/segment/v2', ...v1, r.part.msn, r.part.index, r.part.independent ? 1 : 0)
}

export function headSigningBytes(h: Unsigned<StreamHead>): Buffer {
  return bytes('cjp2p-stream/head/v1', h.id, h.chunks, h.length, h.segments, h.time, h.ended ? 1 : 0)
}

export function infoSigningBytes(i: Unsigned<StreamInfo>): Buffer {
  const init = i.init === null ? '-' : `${i.init.offset}+${i.init.length}`
  return bytes('cjp2p-stream/info/v1', i.id, i.format, init, i.targetDuration, i.created)
}
