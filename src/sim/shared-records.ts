// The simulator's RecordKeeper, declared in docs/SCHEDULER.md: one frozen copy of each verified
// record for the whole process, kept by every node that accepts it, instead of a copy per node
// (at 200 viewers the copies of chunk records were a fifth of the heap). A log hands its keeper
// only records its verifier accepted; the shared copy is found by signature and given only for a
// record that is the same field for field (same-record.ts), so anything else, were it ever handed
// over, is kept as a copy of its own. Frozen, because every node holds the very same object: a
// write by one would be a change at all of them.
import type { RecordKeeper } from '../store/record-keeper.ts'
import { pickChunkRecord, pickSegmentRecord, pickStreamHead, pickStreamInfo } from '../store/record-shape.ts'
import { sameChunkRecord, sameHead, sameInfo, sameSegment } from '../store/same-record.ts'
import type { ChunkRecord, SegmentRecord, StreamHead, StreamInfo } from '../store/stream-types.ts'

/** Records per kind before a kind starts over (later keepers then get a new shared copy): the live
 * window of a stream many times over, as shared-verifier.ts's memos. */
const MAX_ENTRIES = 200_000

class Shared<T extends { sig: string }> {
  private bySig = new Map<string, T>()

  constructor(private readonly same: (held: T, x: unknown) => boolean, private readonly pick: (r: T) => T) {}

  of(rec: T): T {
    const have = this.bySig.get(rec.sig)
    if (have !== undefined && (have === rec || this.same(have, rec))) return have
    const kept = freezeRecord(this.pick(rec))
    if (have === undefined) {
      if (this.bySig.size >= MAX_ENTRIES) this.bySig.clear()
      this.bySig.set(rec.sig, kept)
    }
    return kept
  }

  get size(): number { return this.bySig.size }
}

/** A record and the objects in it (a chunk's block hashes, a segment's part, an info's init). */
function freezeRecord<T extends object>(rec: T): T {
  for (const v of Object.values(rec)) if (typeof v === 'object' && v !== null) Object.freeze(v)
  return Object.freeze(rec)
}

export class SharedRecords implements RecordKeeper {
  private readonly chunks = new Shared(sameChunkRecord, pickChunkRecord)
  private readonly segments = new Shared(sameSegment, pickSegmentRecord)
  private readonly heads = new Shared(sameHead, pickStreamHead)
  private readonly infos = new Shared(sameInfo, pickStreamInfo)

  chunkRecord(rec: ChunkRecord): ChunkRecord { return this.chunks.of(rec) }
  segment(rec: SegmentRecord): SegmentRecord { return this.segments.of(rec) }
  head(head: StreamHead): StreamHead { return this.heads.of(head) }
  info(info: StreamInfo): StreamInfo { return this.infos.of(info) }

  /** Distinct records held, all kinds. */
  get size(): number { return this.chunks.size + this.segments.size + this.heads.size + this.infos.size }
}
