// records.jsonl: the append-only journal of a stream's signed records, one JSON object per line.
// Appends are serialised through one promise chain so lines never interleave. Nothing in here
// is trusted on load: the reader only splits lines and drops torn ones; StreamLog re-verifies
// every record's signature before using it.
//
// A log with a retention window compacts its journal (compact()): the records of deleted chunks
// and segments are rewritten away, so the journal is bounded like the data (about 6 KB of records
// per second of stream would otherwise pile up for as long as the node runs, ~23 MB an hour).
// The rewrite runs in the same chain as appends, so no line appended before it is lost and none
// after it lands in the old file; it goes to a temporary file renamed over the journal, so a crash
// mid-way leaves the old journal whole.
import { open, type FileHandle } from 'node:fs/promises'
import { StoreError, fsError } from './errors.ts'
import { silentLogger, type StoreLogger } from './logger.ts'
import { openIfExists, replaceFile } from './file-io.ts'
import type { ChunkRecord, SegmentRecord, StreamHead, StreamInfo } from './stream-types.ts'

export type JournalEntry =
  | { t: 'info'; r: StreamInfo }
  | { t: 'chunk'; r: ChunkRecord }
  | { t: 'segment'; r: SegmentRecord }
  | { t: 'head'; r: StreamHead }

/** A record line is under 400 bytes; anything longer is corruption, skipped without buffering it. */
const MAX_LINE_CHARS = 4096
const READ_BYTES = 64 * 1024

/** Calls `onLine` with each parsed line in order. A line that is not JSON is skipped with a
 * warning; an unterminated last line (a write cut short by a crash) is dropped, never used. */
export async function readJournal(file: string, onLine: (value: unknown) => void, logger: StoreLogger): Promise<void> {
  const fh = await openIfExists(file)
  if (!fh) return
  try {
    const buf = Buffer.alloc(READ_BYTES)
    let carry: Buffer[] = []
    let carryLen = 0
    let overlong = false
    let lineNo = 0
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, READ_BYTES, null)
      if (bytesRead === 0) break
      let start = 0
      for (let i = 0; i < bytesRead; i++) {
        if (buf[i] !== 0x0a) continue
        lineNo++
        const piece = buf.subarray(start, i)
        if (!overlong && carryLen + piece.length <= MAX_LINE_CHARS) {
          const line = carryLen ? Buffer.concat([...carry, piece]).toString('utf8') : piece.toString('utf8')
          if (line.trim() !== '') {
            let value: unknown
            try {
              value = JSON.parse(line)
            } catch {
              logger.warn('records.jsonl: skipping a corrupt line', { file, line: lineNo })
              value = undefined
            }
            if (value !== undefined) onLine(value)
          }
        } else {
          logger.warn('records.jsonl: skipping an overlong line', { file, line: lineNo })
        }
        carry = []
        carryLen = 0
        overlong = false
        start = i + 1
      }
      const rest = buf.subarray(start, bytesRead)
      if (!overlong && carryLen + rest.length <= MAX_LINE_CHARS) {
        carry.push(Buffer.from(rest))
        carryLen += rest.length
      } else {
        overlong = true
        carry = []
        carryLen = 0
      }
    }
    if (carryLen > 0 || overlong) logger.warn('records.jsonl: dropping a torn last line', { file })
  } catch (err) {
    throw fsError(err, `reading ${file}`)
  } finally {
    await fh.close()
  }
}

/** Heads and infos a compaction keeps, newest last: the loader takes the newest valid one. */
const KEEP_NEWEST_HEADS = 4
const KEEP_NEWEST_INFOS = 4

export class RecordsJournal {
  private tail: Promise<void> = Promise.resolve()
  private closed = false
  /** After a failed or torn write the next line starts on a fresh line. */
  private needNewline: boolean
  private bytes: number

  private constructor(private fh: FileHandle, private readonly file: string, size: number, endsClean: boolean) {
    this.needNewline = !endsClean
    this.bytes = size
  }

  /** Bytes in the journal file (appends issued so far included). */
  get size(): number {
    return this.bytes
  }

  static async open(file: string): Promise<RecordsJournal> {
    try {
      const fh = await open(file, 'a+')
      const { size } = await fh.stat()
      let endsClean = true
      if (size > 0) {
        const last = Buffer.alloc(1)
        await fh.read(last, 0, 1, size - 1)
        endsClean = last[0] === 0x0a
      }
      return new RecordsJournal(fh, file, size, endsClean)
    } catch (err) {
      throw fsError(err, `opening ${file}`)
    }
  }

  /** Appends entries as one write. Rejects with a StoreError (ERR_DISK_FULL ...) on failure; the
   * journal stays usable, and the torn line is skipped on the next load. */
  append(entries: JournalEntry | JournalEntry[]): Promise<void> {
    if (this.closed) return Promise.reject(new StoreError('ERR_CLOSED', 'journal is closed'))
    const list = Array.isArray(entries) ? entries : [entries]
    const run = async (): Promise<void> => {
      const text = (this.needNewline ? '\n' : '') + list.map((e) => JSON.stringify(e) + '\n').join('')
      this.needNewline = true
      this.bytes += Buffer.byteLength(text)
      try {
        await this.fh.appendFile(text, 'utf8')
      } catch (err) {
        throw fsError(err, `appending to ${this.file}`)
      }
      this.needNewline = false
    }
    const p = this.tail.then(run)
    this.tail = p.catch(() => {})
    return p
  }

  /** Rewrites the journal with only the chunk and segment entries `keep` accepts, plus the newest
   * few heads and infos; resolves with the new size. Lines that do not parse are dropped (the
   * loader would skip them anyway). On failure the old journal stays in use, whole. */
  compact(keep: (e: JournalEntry) => boolean): Promise<number> {
    if (this.closed) return Promise.reject(new StoreError('ERR_CLOSED', 'journal is closed'))
    const run = async (): Promise<number> => {
      const kept: string[] = []
      const heads: string[] = []
      const infos: string[] = []
      await readJournal(this.file, (value) => {
        const e = value as JournalEntry
        const line = JSON.stringify(value) + '\n'
        if (e?.t === 'head' || e?.t === 'info') {
          const ring = e.t === 'head' ? heads : infos
          ring.push(line)
          if (ring.length > (e.t === 'head' ? KEEP_NEWEST_HEADS : KEEP_NEWEST_INFOS)) ring.shift()
        } else if ((e?.t === 'chunk' || e?.t === 'segment') && typeof e.r === 'object' && e.r !== null && keep(e)) {
          kept.push(line)
        }
      }, silentLogger)
      const text = [...infos, ...kept, ...heads].join('')
      const fresh = await replaceFile(this.file, text, 'a+', `compacting ${this.file}`)
      await this.fh.close().catch(() => {})
      this.fh = fresh
      this.bytes = Buffer.byteLength(text)
      this.needNewline = false
      return this.bytes
    }
    const p = this.tail.then(run)
    this.tail = p.then(() => {}, () => {})
    return p
  }

  /** Resolves once every append issued so far has been handed to the OS. */
  flush(): Promise<void> {
    return this.tail
  }

  async sync(): Promise<void> {
    await this.tail
    if (!this.closed) await this.fh.datasync().catch(() => {})
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.tail
    await this.fh.close()
  }
}
