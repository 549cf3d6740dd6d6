// A stream log kept in memory instead of files: the simulator's store (thousands of nodes in one
// process, no disk). Bytes are kept per chunk; a whole chunk written at its boundary is kept by
// reference, and a ChunkPool shared by every log in the process keeps one copy of each verified
// chunk however many nodes hold it (only verified bytes are ever written, see StreamLog.putChunk).
import type { StreamData, StreamFiles, StreamStorage } from './stream-log-load.ts'
import { recordWindows } from './record-window.ts'
import { CHUNK_SIZE, type ChunkRecord, type SegmentRecord } from './stream-types.ts'
import { VerifiedChunks } from './verified-chunks.ts'

/** One copy of each chunk's bytes for the whole process, by stream and index. */
export class ChunkPool {
  private chunks = new Map<string, Buffer>()

  /** The pooled copy when it holds the same bytes, else `bytes` (now the pooled copy). */
  intern(key: string, bytes: Buffer): Buffer {
    const have = this.chunks.get(key)
    // A chunk assembled from blocks read out of the pooled copy is a view of it: nothing to compare.
    if (have && (sameMemory(have, bytes) || have.equals(bytes))) return have
    this.chunks.set(key, bytes)
    return bytes
  }

  get size(): number { return this.chunks.size }
}

class MemoryData implements StreamData {
  private chunks = new Map<number, Buffer>()
  /** Chunks whose buffer is shared (pooled or the writer's): copied before a partial write. */
  private shared = new Set<number>()
  size = 0

  constructor(private key: string, private pool: ChunkPool | undefined) {}

  async write(bytes: Uint8Array, position: number): Promise<void> {
    this.writeRange(bytes, 0, bytes.length, position)
  }

  async read(length: number, position: number): Promise<Buffer> {
    // Within one chunk that is never written again (pooled, or a whole chunk its writer handed
    // over), a view of it: a copy per read was most of the simulator's garbage (every pull, every
    // catch-up, at every node).
    const n = Math.floor(position / CHUNK_SIZE)
    const within = position - n * CHUNK_SIZE
    const whole = this.chunks.get(n)
    if (whole && this.shared.has(n) && within + length <= whole.length && position + length <= this.size) return whole.subarray(within, within + length)
    const out = Buffer.alloc(length)
    this.readRange(out, 0, length, position)
    return out
  }

  /** Memory is never trimmed: the simulator keeps what its runs last. */
  pieceOf(): number { return 0 }
  holds(): boolean { return true }
  async dropBelow(): Promise<number> { return 0 }

  private writeRange(buffer: Uint8Array, offset: number, length: number, position: number): { bytesWritten: number } {
    const src = Buffer.from(buffer.buffer, buffer.byteOffset + offset, length)
    if (position % CHUNK_SIZE === 0 && length <= CHUNK_SIZE) {
      const n = position / CHUNK_SIZE
      const whole = this.pool && length === CHUNK_SIZE ? this.pool.intern(`${this.key}/${n}`, src) : src
      const cur = this.chunks.get(n)
      if (!cur || length >= this.lengthOf(n)) {
        this.chunks.set(n, whole)
        this.shared.add(n)
        this.size = Math.max(this.size, position + length)
        return { bytesWritten: length }
      }
    }
    for (let done = 0; done < length;) {
      const pos = position + done
      const n = Math.floor(pos / CHUNK_SIZE)
      const within = pos - n * CHUNK_SIZE
      const take = Math.min(CHUNK_SIZE - within, length - done)
      let buf = this.chunks.get(n)
      if (!buf || this.shared.has(n) || buf.length < CHUNK_SIZE) {
        const own = Buffer.alloc(CHUNK_SIZE)
        buf?.copy(own)
        this.chunks.set(n, own)
        this.shared.delete(n)
        buf = own
      }
      src.copy(buf, within, done, done + take)
      done += take
    }
    this.size = Math.max(this.size, position + length)
    return { bytesWritten: length }
  }

  private readRange(buffer: Uint8Array, offset: number, length: number, position: number): { bytesRead: number } {
    const end = Math.min(position + length, this.size)
    const out = Buffer.from(buffer.buffer, buffer.byteOffset + offset, length)
    for (let pos = position; pos < end;) {
      const n = Math.floor(pos / CHUNK_SIZE)
      const within = pos - n * CHUNK_SIZE
      const take = Math.min(CHUNK_SIZE - within, end - pos)
      const buf = this.chunks.get(n)
      if (buf) out.set(buf.subarray(within, Math.min(buf.length, within + take)), pos - position)
      else out.fill(0, pos - position, pos - position + take)
      pos += take
    }
    return { bytesRead: Math.max(0, end - position) }
  }

  private lengthOf(n: number): number { return this.chunks.get(n)?.length ?? 0 }
  async datasync(): Promise<void> {}
  async close(): Promise<void> { this.chunks.clear(); this.shared.clear() }
}

function sameMemory(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength
}

const nothingToJournal = {
  size: 0,
  compact: async () => 0,
  append: async () => {},
  flush: async () => {},
  sync: async () => {},
  close: async () => {},
}

/** Storage for StreamLog's `storage` option: a fresh, empty log in memory on every open. */
export function memoryStorage(pool?: ChunkPool): StreamStorage {
  return async (path, id, opts): Promise<StreamFiles> => ({
    path: `memory:${path}`,
    records: {
      info: null, head: null, journaledHeadTime: -Infinity,
      ...recordWindows<ChunkRecord, SegmentRecord>(opts.windows),
    },
    data: new MemoryData(id, pool),
    journal: nothingToJournal,
    verified: VerifiedChunks.inMemory(),
    dataSize: 0,
    floor: 0,
  })
}
