// What a StreamLog keeps of a record a peer sent, once its RecordVerifier accepted it: by default a
// copy of the signed fields alone (record-shape.ts), so keys a peer added beside them never reach
// memory or the journal. The simulator swaps in one frozen copy per record for the whole process
// (src/sim/shared-records.ts): a thousand nodes in one process each held a copy of every record of
// the live window. Nothing else may swap it.
import { pickChunkRecord, pickSegmentRecord, pickStreamHead, pickStreamInfo } from './record-shape.ts'
import type { ChunkRecord, SegmentRecord, StreamHead, StreamInfo } from './stream-types.ts'

/** Each method is handed a record that verified and returns the object the log keeps; a kept
 * record is never changed (the simulator's are frozen and held by every node). */
export interface RecordKeeper {
  chunkRecord(rec: ChunkRecord): ChunkRecord
  segment(rec: SegmentRecord): SegmentRecord
  head(head: StreamHead): StreamHead
  info(info: StreamInfo): StreamInfo
}

export const recordKeeper: RecordKeeper = { chunkRecord: pickChunkRecord, segment: pickSegmentRecord, head: pickStreamHead, info: pickStreamInfo }
