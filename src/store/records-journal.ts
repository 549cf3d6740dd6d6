// records.jsonl: the append-only journal of a stream's signed records, one JSON object per line.
// Appends are serialised through one promise chain so lines never interleave. Nothing in here
// is trusted on load: the reader only splits lines and drops torn ones; StreamLog re-verifies
// every record's signature before using it.
import { open, type FileHandle } from 'node:fs/promises'
import { StoreError, fsError } from './errors.ts'
import type { StoreLogger } from './logger.ts'
import { openIfExists } from './file-io.ts'
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

export class RecordsJournal {
  private tail: Promise<void> = Promise.resolve()
  private closed = false
  /** After a failed or torn write the next line starts on a fresh line. */
  private needNewline: boolean

  private constructor(private readonly fh: FileHandle, private readonly file: string, endsClean: boolean) {
    this.needNewline = !endsClean
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
      return new RecordsJournal(fh, file, endsClean)
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
