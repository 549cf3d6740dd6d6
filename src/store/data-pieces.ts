// A stream's byte log on disk, as files that can be dropped from its head. A log that keeps
// everything (a source by default) is one sparse file `data`, as before; a log with a retention
// window is cut into pieces `data.<k>`, piece k holding log bytes [k * pieceBytes, (k+1) * pieceBytes),
// so deleting what fell out of the window is unlinking whole pieces: no hole punching (Node has no
// fallocate), no rewriting. A read or write spanning a piece boundary is split; a piece is closed
// only after the operations in flight on it settled.
import { open, readFile, readdir, rename, rm, writeFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { StoreError, errnoCode, fsError } from './errors.ts'
import { readExactly, writeAll } from './file-io.ts'
import { CHUNK_SIZE } from './stream-types.ts'

const SINGLE = 'data'
const PIECE_RE = /^data\.(\d{1,12})$/
/** The piece size a folder's pieces were cut with: the layout on disk wins over the options of
 * whoever opens it next (another --keep, or a reader such as a benchmark that passes none), or
 * every byte would be looked for in the wrong file. */
const LAYOUT = 'pieces'

export class DataPieces {
  private readonly handles = new Map<number, FileHandle>()
  private readonly opening = new Map<number, Promise<FileHandle>>()
  private readonly busy = new Map<number, Set<Promise<unknown>>>()
  private readonly dirty = new Set<number>()
  /** Bytes of the log as far as any piece reaches (a replica's is sparse). */
  size = 0

  private constructor(private readonly dir: string, readonly pieceBytes: number) {}

  /** The layout already on disk if there is one (a `data` file, or pieces of the size recorded
   * beside them), else one `data` file when `pieceChunks` is null, else new pieces. */
  static async open(dir: string, pieceChunks: number | null): Promise<DataPieces> {
    let names: string[]
    try {
      names = await readdir(dir)
    } catch (err) {
      throw fsError(err, `listing ${dir}`)
    }
    const onDisk = names.includes(SINGLE) ? Infinity : await recordedPieceBytes(dir, names)
    const pieceBytes = onDisk ?? (pieceChunks === null ? Infinity : pieceChunks * CHUNK_SIZE)
    const single = pieceBytes === Infinity
    const d = new DataPieces(dir, pieceBytes)
    try {
      if (!single && onDisk === undefined) await recordPieceBytes(dir, pieceBytes)
      if (single) {
        await d.handle(0, true)
      } else {
        for (const name of names) {
          const m = PIECE_RE.exec(name)
          if (m) await d.handle(Number(m[1]), false)
        }
      }
      for (const [k, h] of d.handles) d.size = Math.max(d.size, d.start(k) + (await h.stat()).size)
    } catch (err) {
      await d.close()
      throw fsError(err, `opening the data of ${dir}`)
    }
    return d
  }

  get single (): boolean {
    return this.pieceBytes === Infinity
  }

  /** The piece holding chunk n. */
  pieceOf (chunk: number): number {
    return Math.floor(chunk * CHUNK_SIZE / this.pieceBytes)
  }

  /** False when chunk n's piece was dropped (or never written). */
  holds (chunk: number): boolean {
    return this.handles.has(this.pieceOf(chunk))
  }

  async read (length: number, position: number, what: string): Promise<Buffer> {
    const parts: Buffer[] = []
    await this.span(position, length, async (k, h, at, len) => { parts.push(await readExactly(h, len, at, what)) }, false, what)
    return parts.length === 1 ? parts[0] : Buffer.concat(parts)
  }

  async write (bytes: Uint8Array, position: number, what: string): Promise<void> {
    let done = 0
    await this.span(position, bytes.length, async (k, h, at, len) => {
      await writeAll(h, bytes.subarray(done, done + len), at, what)
      done += len
      this.dirty.add(k)
    }, true, what)
    this.size = Math.max(this.size, position + bytes.length)
  }

  /** fdatasync of every piece written since the last call. */
  async datasync (): Promise<void> {
    const pieces = [...this.dirty]
    this.dirty.clear()
    await Promise.all(pieces.map((k) => this.handles.get(k)?.datasync()))
  }

  /** Unlinks every piece lying wholly below chunk `below`, except `keep` (the fMP4 init's piece).
   * A single `data` file is never cut. Returns how many pieces went. */
  async dropBelow (below: number, keep: ReadonlySet<number> = new Set()): Promise<number> {
    if (this.single) return 0
    const limit = this.pieceOf(below)
    let dropped = 0
    for (const k of [...this.handles.keys()]) {
      if (k >= limit || keep.has(k)) continue
      const h = this.handles.get(k)!
      this.handles.delete(k)
      this.dirty.delete(k)
      // Unlinking an open file is fine on Linux: readers in flight finish on the old inode.
      await rm(this.path(k), { force: true }).catch((err: unknown) => { throw fsError(err, `deleting ${this.path(k)}`) })
      await Promise.allSettled([...(this.busy.get(k) ?? [])])
      this.busy.delete(k)
      await h.close().catch(() => {})
      dropped++
    }
    return dropped
  }

  async close (): Promise<void> {
    await Promise.allSettled([...this.opening.values()])
    const hs = [...this.handles.values()]
    this.handles.clear()
    await Promise.all(hs.map((h) => h.close().catch(() => {})))
  }

  private start (k: number): number {
    return this.single ? 0 : k * this.pieceBytes
  }

  private path (k: number): string {
    return join(this.dir, this.single ? SINGLE : `data.${k}`)
  }

  /** Runs `op` on each piece [position, position + length) touches, in order. */
  private async span (position: number, length: number, op: (k: number, h: FileHandle, at: number, len: number) => Promise<void>,
    create: boolean, what: string): Promise<void> {
    for (let pos = position; pos < position + length;) {
      const k = this.single ? 0 : Math.floor(pos / this.pieceBytes)
      const end = Math.min(position + length, this.single ? Infinity : (k + 1) * this.pieceBytes)
      const h = this.handles.get(k) ?? (create ? await this.handle(k, true) : null)
      if (!h) throw new StoreError('ERR_NOT_VERIFIED', `bytes at ${pos} were deleted by retention (${what})`)
      const p = op(k, h, pos - this.start(k), end - pos)
      let set = this.busy.get(k)
      if (!set) this.busy.set(k, (set = new Set()))
      set.add(p)
      try {
        await p
      } finally {
        set.delete(p)
      }
      pos = end
    }
  }

  /** The piece's handle, opened (and created when `create`) once even under concurrent calls. */
  private async handle (k: number, create: boolean): Promise<FileHandle> {
    const have = this.handles.get(k)
    if (have) return have
    let p = this.opening.get(k)
    if (!p) {
      const file = this.path(k)
      p = open(file, 'r+').catch((err: unknown) => {
        if (create && errnoCode(err) === 'ENOENT') return open(file, 'w+')
        throw err
      })
      this.opening.set(k, p)
    }
    try {
      const h = await p
      this.handles.set(k, h)
      return h
    } catch (err) {
      throw fsError(err, `opening ${this.path(k)}`)
    } finally {
      this.opening.delete(k)
    }
  }
}

async function recordPieceBytes(dir: string, pieceBytes: number): Promise<void> {
  const file = join(dir, LAYOUT)
  await writeFile(file + '.tmp', `${pieceBytes}\n`)
  await rename(file + '.tmp', file)
}

/** The recorded piece size when the folder holds pieces; undefined for a fresh folder. */
async function recordedPieceBytes(dir: string, names: string[]): Promise<number | undefined> {
  if (!names.some((n) => PIECE_RE.test(n))) return undefined
  let text: string
  try {
    text = await readFile(join(dir, LAYOUT), 'utf8')
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new StoreError('ERR_CORRUPT', `${dir} holds data pieces but no ${LAYOUT} file saying their size`)
    throw err
  }
  const n = Number(text.trim())
  if (!Number.isSafeInteger(n) || n <= 0 || n % CHUNK_SIZE !== 0) throw new StoreError('ERR_CORRUPT', `${join(dir, LAYOUT)} does not hold a piece size`)
  return n
}
