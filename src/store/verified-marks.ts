// The persistent half of the verified-chunk bitmap: an append-only file of 4-byte little-endian
// chunk numbers. A number is appended only after the chunk's bytes were written and the data
// file was fdatasync'ed (StreamLog orders that), so a mark on disk always has its bytes on disk.
// A crash can only lose marks (those chunks get re-hashed or re-fetched), never invent them.
// rewrite() replaces the file with a given set of marks (a temporary file renamed over it, so a
// crash leaves one whole file or the other); VerifiedChunks uses it to drop the marks of chunks
// retention deleted.
import { open, type FileHandle } from 'node:fs/promises'
import { errnoCode, fsError } from './errors.ts'
import { openIfExists, replaceFile, writeAll } from './file-io.ts'

const ENTRY_BYTES = 4
const READ_BYTES = 64 * 1024

export async function readMarks(file: string, onMark: (n: number) => void): Promise<void> {
  const fh = await openIfExists(file)
  if (!fh) return
  try {
    const buf = Buffer.alloc(READ_BYTES)
    let pos = 0
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, READ_BYTES, pos)
      const whole = bytesRead - (bytesRead % ENTRY_BYTES) // a torn last entry is ignored
      for (let i = 0; i < whole; i += ENTRY_BYTES) onMark(buf.readUInt32LE(i))
      if (bytesRead < READ_BYTES) break
      pos += bytesRead
    }
  } catch (err) {
    throw fsError(err, `reading ${file}`)
  } finally {
    await fh.close()
  }
}

export class VerifiedMarks {
  private constructor(private fh: FileHandle, private readonly file: string, private size: number) {}

  /** Marks in the file. */
  get entries(): number {
    return this.size / ENTRY_BYTES
  }

  /** Opens for appending, first cutting off a torn last entry so later entries stay aligned. */
  static async open(file: string): Promise<VerifiedMarks> {
    try {
      const fh = await open(file, 'r+').catch((err: unknown) => {
        if (errnoCode(err) === 'ENOENT') return open(file, 'w+')
        throw err
      })
      const { size } = await fh.stat()
      const aligned = size - (size % ENTRY_BYTES)
      if (aligned !== size) await fh.truncate(aligned)
      return new VerifiedMarks(fh, file, aligned)
    } catch (err) {
      throw fsError(err, `opening ${file}`)
    }
  }

  /** Appends at the known end; a failed (short) write is cut back off so entries stay aligned. */
  async append(chunks: readonly number[]): Promise<void> {
    if (chunks.length === 0) return
    const buf = Buffer.alloc(chunks.length * ENTRY_BYTES)
    chunks.forEach((n, i) => buf.writeUInt32LE(n, i * ENTRY_BYTES))
    try {
      await writeAll(this.fh, buf, this.size, `appending to ${this.file}`)
      this.size += buf.length
    } catch (err) {
      await this.fh.truncate(this.size).catch(() => {})
      throw err
    }
  }

  /** Replaces the file's marks with `chunks`. On failure the old file stays in use, whole. */
  async rewrite(chunks: Iterable<number>): Promise<void> {
    const list = [...chunks]
    const buf = Buffer.alloc(list.length * ENTRY_BYTES)
    list.forEach((n, i) => buf.writeUInt32LE(n, i * ENTRY_BYTES))
    const fresh = await replaceFile(this.file, buf, 'r+', `rewriting ${this.file}`)
    await this.fh.close().catch(() => {})
    this.fh = fresh
    this.size = buf.length
  }

  async close(): Promise<void> {
    await this.fh.close()
  }
}
