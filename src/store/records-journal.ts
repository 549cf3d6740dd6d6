// records.jsonl: the append-only journal of a stream's signed records, one JSON object per line.
// Appends are serialised through one promise chain so lines never interleave. Nothing in here
// is trusted on load: the reader only splits lines and drops torn ones; StreamLog re-verifies
// every record's signature before using it.
//
// Lines that need not be on disk at once (append(..., 'soon'): a replica's records, heads) wait up
// to SOON_MS and go out together, as one write: a viewer journaled each chunk's record by itself, a
// trip through the thread pool per chunk. A record is needed on disk only before its chunk's mark
// (verified-chunks.ts), and a mark commit flushes the journal first, so waiting loses nothing a crash
// would not lose anyway (records whose marks were not yet durable are fetched again). A line
// appended now goes out at once, with any lines still waiting before it, in order.
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
/** How long a 'soon' line may wait: the marks' own batch interval (stream-log.ts), so the journal is
 * written about as often as the marks. */
export const SOON_MS = 1000
/** Lines waiting at most: about a second of a 10 Mb/s stream's records; more goes out at once. */
const MAX_WAITING_LINES = 256
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

/** Lines not yet handed to the chain of writes, and the promise every one of their appends got. */
interface Waiting {
  text: string[]
  done: Promise<void>
  settle: (err?: unknown) => void
  timer: ReturnType<typeof setTimeout> | null
}

export class RecordsJournal {
  private tail: Promise<void> = Promise.resolve()
  private waiting: Waiting | null = null
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

  /** Appends entries, in one write with whatever waits (see the header): `now` starts that write at
   * once, `soon` within SOON_MS. Resolves once written; rejects with a StoreError (ERR_DISK_FULL
   * ...) on failure; the journal stays usable, and the torn line is skipped on the next load. */
  append(entries: JournalEntry | JournalEntry[], when: 'now' | 'soon' = 'now'): Promise<void> {
    if (this.closed) return Promise.reject(new StoreError('ERR_CLOSED', 'journal is closed'))
    const list = Array.isArray(entries) ? entries : [entries]
    const w = this.waiting ??= this.wait()
    for (const e of list) w.text.push(JSON.stringify(e) + '\n')
    if (when === 'now' || w.text.length >= MAX_WAITING_LINES) this.writeWaiting()
    else if (!w.timer) {
      w.timer = setTimeout(() => this.writeWaiting(), SOON_MS)
      w.timer.unref()
    }
    return w.done
  }

  private wait(): Waiting {
    let settle!: (err?: unknown) => void
    const done = new Promise<void>((resolve, reject) => { settle = (err) => (err === undefined ? resolve() : reject(err)) })
    // Appends in the background may not listen; a failure is theirs to hear, never unhandled.
    done.catch(() => {})
    return { text: [], done, settle, timer: null }
  }

  /** Hands the waiting lines to the chain of writes, as one write. */
  private writeWaiting(): void {
    const w = this.waiting
    if (!w) return
    this.waiting = null
    if (w.timer) clearTimeout(w.timer)
    const run = async (): Promise<void> => {
      const text = (this.needNewline ? '\n' : '') + w.text.join('')
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
    p.then(() => w.settle(), (err: unknown) => w.settle(err ?? new Error('journal write failed')))
    this.tail = p.catch(() => {})
  }

  /** Rewrites the journal with only the chunk and segment entries `keep` accepts, plus the newest
   * few heads and infos; resolves with the new size. Lines that do not parse are dropped (the
   * loader would skip them anyway). On failure the old journal stays in use, whole. */
  compact(keep: (e: JournalEntry) => boolean): Promise<number> {
    if (this.closed) return Promise.reject(new StoreError('ERR_CLOSED', 'journal is closed'))
    // Lines appended before the compaction go to the old file first, and are kept or not as any.
    this.writeWaiting()
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

  /** Resolves once every append issued so far has been handed to the OS (waiting lines at once). */
  flush(): Promise<void> {
    this.writeWaiting()
    return this.tail
  }

  async sync(): Promise<void> {
    await this.flush()
    if (!this.closed) await this.fh.datasync().catch(() => {})
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.flush()
    await this.fh.close()
  }
}
