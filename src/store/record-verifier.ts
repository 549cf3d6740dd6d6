// The checks a StreamLog applies to what peers send, as one component: by default the pure
// functions of verify.ts. The simulator swaps in a memo of the same functions (each record and
// chunk verified once for the whole process instead of once per node); nothing else may.
import type { ChunkRecord, StreamHead, StreamId, Verdict } from './stream-types.ts'
import { verifyBlock, verifyChunkBytes, verifyChunkRecord, verifyHead, verifyInfo, verifySegment } from './verify.ts'

export interface RecordVerifier {
  chunkRecord(id: StreamId, rec: unknown): Verdict
  chunkBytes(rec: ChunkRecord, bytes: Uint8Array): Verdict
  /** One block of a chunk against its record's BLAKE3, as it arrives. */
  block(rec: ChunkRecord, i: number, bytes: Uint8Array): Verdict
  segment(id: StreamId, rec: unknown): Verdict
  head(id: StreamId, head: unknown, current: StreamHead | null): Verdict
  info(id: StreamId, info: unknown): Verdict
}

export const recordVerifier: RecordVerifier = {
  chunkRecord: verifyChunkRecord, chunkBytes: verifyChunkBytes, block: verifyBlock, segment: verifySegment, head: verifyHead, info: verifyInfo,
}
