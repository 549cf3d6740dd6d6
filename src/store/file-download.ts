// One file being downloaded into shared/incoming/<id>, with a block bitmap sidecar
// incoming/<id>.blocks so a restart resumes where it stopped.
//
// Sidecar: 16-byte header ("CJPB", u32 version 1, u64 file size) then one bit per 4096-byte block.
// A bit is set on disk only after its block was written and the data file fdatasync'ed (batched),
// bits only ever go from 0 to 1, and every byte written to the sidecar holds durable bits only, so
// after kill -9 every set bit has its bytes on disk. The whole file is still checked against its
// SHA-256 before it leaves incoming/ (hashed as its written prefix grows, the rest at the end);
// a `blake3/<root>` file is not, because its downloader checks every block against the file's
// verified tree before writing it, and a `blake3_tree_v2/<root>` file is checked whole against the root.
import { createHash } from 'node:crypto'
import { link, mkdir, open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { saveTree } from './blake3/tree-file.ts'
import { parseTree } from './blake3/tree.ts'
import { parseBlake3TreeId } from './blake3/ids.ts'
import { isBlake3ContentId } from './file-id.ts'
import { StoreError, errnoCode, fsError } from './errors.ts'
import { readExactly, writeAll, writevAll } from './file-io.ts'
import { silentLogger, type StoreLogger } from './logger.ts'
import { BLOCK_SIZE } from './stream-types.ts'

/** The size comes from a peer's `eof`; 64 GiB keeps the bitmap at 2 MiB and beyond is no LAN file. */
export const MAX_FILE_BYTES = 64 * 1024 ** 3
const MAGIC = 0x42504a43 // "CJPB" little-endian
const HEADER_BYTES = 16
/** Blocks per fdatasync + sidecar update: 4 MiB. A sync per 64 blocks (256 KiB) cost a download
 * 256 syncs per 64 MiB; a crash loses at most this much progress (refetched, never trusted). */
const DEFAULT_BATCH = 1024
const DEFAULT_INTERVAL_MS = 1000
const HASH_READ_BYTES = 1024 * 1024

/** `badBlocks`: for a tree file, the 4 KiB blocks found wrong (their senders are to blame). */
export type FinishResult = { ok: true } | { ok: false; reason: string; badBlocks?: number[] }

export interface DownloadOptions {
  logger?: StoreLogger
  /** Blocks per durability batch, and the longest a written block waits for one. */
  markBatch?: number
  markIntervalMs?: number
}

export class Download {
  private fileSize: number | null = null
  private have = new Uint8Array(0)
  private durable = new Uint8Array(0)
  private haveCount = 0
  private readonly writing = new Set<number>()
  private readonly inflight = new Set<Promise<unknown>>()
  private pending: number[] = []
  private timer: ReturnType<typeof setTimeout> | null = null
  private commits: Promise<void> = Promise.resolve()
  private closing: Promise<void> | null = null
  /** SHA-256 of the file's first `hashedBytes`, advanced in the background as the written prefix
   * grows (blocks come first-missing-first), so finish() hashes only the rest, not the whole file. */
  private hash = createHash('sha256')
  private hashedBytes = 0
  private hashing: Promise<void> | null = null
  /** Told when blocks land on disk and when the download closes (readers waiting for a range). */
  private readonly watchers = new Set<() => void>()
  private readonly logger: StoreLogger
  private readonly batch: number
  private readonly intervalMs: number

  private constructor(
    readonly id: string, private readonly dataPath: string, private readonly sidecarPath: string,
    private readonly sharedPath: string, private readonly data: FileHandle, private readonly sidecar: FileHandle,
    opts: DownloadOptions, private readonly onClose: () => void,
  ) {
    this.logger = opts.logger ?? silentLogger
    this.batch = opts.markBatch ?? DEFAULT_BATCH
    this.intervalMs = opts.markIntervalMs ?? DEFAULT_INTERVAL_MS
  }

  /** @internal FileStore.beginDownload is the public way in. */
  static async open(incomingDir: string, sharedDir: string, id: string, size: number | undefined, opts: DownloadOptions = {}, onClose: () => void = () => {}): Promise<Download> {
    const dataPath = join(incomingDir, id)
    const sidecarPath = `${dataPath}.blocks`
    // incoming/blake3/ and incoming/blake3_tree_v2/ for those ids, made when first needed.
    if (dirname(dataPath) !== incomingDir) await mkdir(dirname(dataPath), { recursive: true }).catch((err: unknown) => { throw fsError(err, `creating ${dirname(dataPath)}`) })
    const data = await openRw(dataPath)
    const sidecar = await openRw(sidecarPath).catch(async (err: unknown) => {
      await data.close()
      throw err
    })
    const d = new Download(id, dataPath, sidecarPath, join(sharedDir, id), data, sidecar, opts, onClose)
    try {
      await d.resume(size)
    } catch (err) {
      await d.close()
      throw err
    }
    return d
  }

  /** Trusts exactly the bits the sidecar holds, if its header matches; otherwise starts over. */
  private async resume(size: number | undefined): Promise<void> {
    const { size: sidecarBytes } = await this.sidecar.stat()
    if (sidecarBytes >= HEADER_BYTES) {
      const header = await readExactly(this.sidecar, HEADER_BYTES, 0, 'reading download sidecar')
      const saved = Number(header.readBigUInt64LE(8))
      const { size: dataBytes } = await this.data.stat()
      const ok = dataBytes === saved && header.readUInt32LE(0) === MAGIC && header.readUInt32LE(4) === 1 && saved <= MAX_FILE_BYTES &&
        sidecarBytes === HEADER_BYTES + bitmapBytes(saved) && (size === undefined || size === saved)
      if (ok) {
        this.allocate(saved)
        const bits = await readExactly(this.sidecar, bitmapBytes(saved), HEADER_BYTES, 'reading download sidecar')
        this.durable.set(bits)
        this.have.set(bits)
        for (let i = 0; i < this.blockCount; i++) if (this.hasBlock(i)) this.haveCount++
        return
      }
      this.logger.warn('download sidecar does not match; starting the file over', { id: this.id })
    }
    await this.sidecar.truncate(0)
    await this.data.truncate(0)
    if (size !== undefined) await this.setSize(size)
  }

  get size(): number | null { return this.fileSize }
  /** The data file in incoming/: a block is readable there once hasBlock(i) (not yet verified). */
  get dataFile(): string { return this.dataPath }

  /** Calls `fn` after blocks were written and once when the download closes; returns the unsubscribe. */
  watch(fn: () => void): () => void {
    this.watchers.add(fn)
    return () => { this.watchers.delete(fn) }
  }

  private notify(): void {
    for (const fn of [...this.watchers]) fn()
  }
  get blockCount(): number { return this.fileSize === null ? 0 : Math.ceil(this.fileSize / BLOCK_SIZE) }
  get receivedBlocks(): number { return this.haveCount }
  get complete(): boolean { return this.fileSize !== null && this.haveCount === this.blockCount }

  /** The size learned from the first Content's eof. A different size later means a liar: ERR_SIZE. */
  async setSize(size: number): Promise<void> {
    this.assertOpen()
    if (!Number.isSafeInteger(size) || size < 0 || size > MAX_FILE_BYTES) throw new StoreError('ERR_SIZE', `bad file size ${size}`)
    if (this.fileSize !== null) {
      if (size !== this.fileSize) throw new StoreError('ERR_SIZE', `size ${size} disagrees with ${this.fileSize}`)
      return
    }
    this.allocate(size)
    const header = Buffer.alloc(HEADER_BYTES)
    header.writeUInt32LE(MAGIC, 0)
    header.writeUInt32LE(1, 4)
    header.writeBigUInt64LE(BigInt(size), 8)
    try {
      await this.data.truncate(size) // sparse: blocks land at their offsets in any order
      await this.sidecar.truncate(HEADER_BYTES + bitmapBytes(size))
      await writeAll(this.sidecar, header, 0, 'writing download sidecar')
    } catch (err) {
      this.fileSize = null
      throw fsError(err, `preparing download ${this.id}`)
    }
  }

  hasBlock(i: number): boolean {
    if (!Number.isSafeInteger(i) || i < 0 || i >= this.blockCount) return false
    return (this.have[i >> 3] & (1 << (i & 7))) !== 0
  }

  /** The blocks held among from .. from + count - 1 as a bitmap (bit k, LSB first, is block from + k),
   * cut at the file's end: the have-map a relay sends with a hint. */
  heldBits(from: number, count: number): Buffer {
    const n = Math.max(0, Math.min(count, this.blockCount - from))
    const bits = Buffer.alloc(Math.ceil(n / 8))
    for (let k = 0; k < n; k++) if (this.hasBlock(from + k)) bits[k >> 3] |= 1 << (k & 7)
    return bits
  }

  missingBlocks(limit = Infinity): number[] {
    const out: number[] = []
    for (let i = 0; i < this.blockCount && out.length < limit; i++) if (!this.hasBlock(i)) out.push(i)
    return out
  }

  /** Writes block i. Resolves false for a block already held; throws ERR_BAD_RECORD for a block
   * that cannot be part of this file (wrong index or length), ERR_SIZE before the size is known. */
  async writeBlock(i: number, bytes: Uint8Array): Promise<boolean> {
    this.assertOpen()
    if (this.fileSize === null) throw new StoreError('ERR_SIZE', `size of ${this.id} is not known yet`)
    if (!Number.isSafeInteger(i) || i < 0 || i >= this.blockCount) throw new StoreError('ERR_BAD_RECORD', `block ${i} is outside ${this.id}`)
    const expected = Math.min(BLOCK_SIZE, this.fileSize - i * BLOCK_SIZE)
    if (bytes.length !== expected) throw new StoreError('ERR_BAD_RECORD', `block ${i} has ${bytes.length} bytes, expected ${expected}`)
    if (this.hasBlock(i) || this.writing.has(i)) return false
    this.writing.add(i)
    try {
      await this.track(writeAll(this.data, bytes, i * BLOCK_SIZE, `writing block ${i} of ${this.id}`))
    } finally {
      this.writing.delete(i)
    }
    this.markWritten(i)
    this.hashWritten(i, [bytes])
    this.notify()
    this.advanceHash()
    if (this.pending.length >= this.batch) await this.flush()
    else this.scheduleFlush()
    return true
  }

  /** Writes the consecutive blocks first, first+1, ... in one positional writev (a download gets
   * them in runs: one system call per run, not per 4 KiB). Resolves with the blocks newly written;
   * a block already held or being written is skipped. Same checks as writeBlock. */
  async writeBlocks(first: number, blocks: Uint8Array[]): Promise<number> {
    this.assertOpen()
    if (this.fileSize === null) throw new StoreError('ERR_SIZE', `size of ${this.id} is not known yet`)
    const fileSize = this.fileSize
    blocks.forEach((b, k) => {
      const i = first + k
      if (!Number.isSafeInteger(i) || i < 0 || i >= this.blockCount) throw new StoreError('ERR_BAD_RECORD', `block ${i} is outside ${this.id}`)
      const expected = Math.min(BLOCK_SIZE, fileSize - i * BLOCK_SIZE)
      if (b.length !== expected) throw new StoreError('ERR_BAD_RECORD', `block ${i} has ${b.length} bytes, expected ${expected}`)
    })
    if (blocks.some((_, k) => this.hasBlock(first + k) || this.writing.has(first + k))) {
      // Rare (a duplicate answer raced its twin): block by block, each skipped or written.
      let n = 0
      for (const [k, b] of blocks.entries()) if (await this.writeBlock(first + k, b)) n++
      return n
    }
    for (let k = 0; k < blocks.length; k++) this.writing.add(first + k)
    try {
      await this.track(writevAll(this.data, blocks, first * BLOCK_SIZE, `writing blocks ${first}-${first + blocks.length - 1} of ${this.id}`))
    } finally {
      for (let k = 0; k < blocks.length; k++) this.writing.delete(first + k)
    }
    for (let k = 0; k < blocks.length; k++) this.markWritten(first + k)
    this.hashWritten(first, blocks)
    this.notify()
    this.advanceHash()
    // The sync runs behind the writes (its commits are chained): a write need not wait for the
    // disk to confirm 4 MiB, only its bit does.
    if (this.pending.length >= this.batch) void this.flush()
    else this.scheduleFlush()
    return blocks.length
  }

  /** A block is on disk: its bit is set now, made durable with the next batch. */
  private markWritten(i: number): void {
    this.have[i >> 3] |= 1 << (i & 7)
    this.haveCount++
    this.pending.push(i)
  }

  /** Hashes blocks just written straight from memory when they continue the hashed prefix (the
   * usual case, blocks coming first-missing-first), so that prefix is never read back. Not while a
   * read-back is under way: its piece comes first. */
  private hashWritten(first: number, blocks: Uint8Array[]): void {
    if (this.hashing || this.closing) return
    let pos = first * BLOCK_SIZE
    for (const b of blocks) {
      const end = pos + b.length
      if (pos <= this.hashedBytes && this.hashedBytes < end) {
        this.hash.update(b.subarray(this.hashedBytes - pos))
        this.hashedBytes = end
      }
      pos = end
    }
  }

  /** Hashes the written prefix in HASH_READ_BYTES pieces (from the page cache) while it grows, where
   * blocks were written out of order. */
  private advanceHash(): void {
    if (this.hashing || this.closing || this.fileSize === null) return
    const size = this.fileSize
    const ready = () => {
      const end = Math.min(size, this.hashedBytes + HASH_READ_BYTES)
      if (end === this.hashedBytes || end === size) return 0 // the last piece is finish()'s
      for (let i = Math.floor(this.hashedBytes / BLOCK_SIZE); i * BLOCK_SIZE < end; i++) if (!this.hasBlock(i) || this.writing.has(i)) return 0
      return end - this.hashedBytes
    }
    if (ready() === 0) return
    this.hashing = (async () => {
      for (let n = ready(); n > 0 && !this.closing; n = ready()) {
        this.hash.update(await readExactly(this.data, n, this.hashedBytes, `hashing ${this.id}`))
        this.hashedBytes += n
      }
    })().catch(() => { /* finish() reads again and reports */ }).finally(() => { this.hashing = null })
    void this.track(this.hashing)
  }

  private scheduleFlush(): void {
    if (this.timer) return
    this.timer = setTimeout(() => {
      this.timer = null
      void this.flush()
    }, this.intervalMs)
    this.timer.unref()
  }

  /** Makes every written block durable: fdatasync the data, then set its bits in the sidecar. */
  flush(): Promise<void> {
    const run = async (): Promise<void> => {
      const batch = this.pending
      this.pending = []
      if (batch.length === 0) return
      try {
        await this.data.datasync()
        let lo = Infinity
        let hi = -1
        for (const i of batch) {
          this.durable[i >> 3] |= 1 << (i & 7)
          lo = Math.min(lo, i >> 3)
          hi = Math.max(hi, i >> 3)
        }
        // One write of the byte range the batch touched: every byte in it holds durable bits only
        // (old ones or this batch's), so whichever bytes reach the disk before a crash, no bit is
        // set for a block whose data is not on disk.
        await writeAll(this.sidecar, this.durable.subarray(lo, hi + 1), HEADER_BYTES + lo, 'writing download sidecar')
      } catch (err) {
        // Bits not on disk only mean those blocks are fetched again after a restart.
        this.logger.warn('could not persist download progress', { id: this.id, error: String(err) })
      }
    }
    this.commits = this.commits.then(run)
    return this.commits
  }

  /** Checks the whole file's SHA-256 and moves it to shared/ on a match. On a mismatch both the
   * file and its sidecar are deleted. Either way the download is closed afterwards, except when
   * it is not complete yet. */
  async finish(): Promise<FinishResult> {
    this.assertOpen()
    if (!this.complete) return { ok: false, reason: 'incomplete' }
    await Promise.allSettled([...this.inflight])
    await this.flush()
    const digest = await this.hashData()
    await this.close()
    const tree = parseBlake3TreeId(this.id)
    if (tree) return this.finishTree(tree)
    if (isBlake3ContentId(this.id)) return this.finishBlake3(digest)
    if (digest !== this.id) {
      await unlink(this.dataPath).catch(() => {})
      await unlink(this.sidecarPath).catch(() => {})
      return { ok: false, reason: 'sha256 mismatch' }
    }
    try {
      await rename(this.dataPath, this.sharedPath)
    } catch (err) {
      throw fsError(err, `moving ${this.id} into shared`)
    }
    await unlink(this.sidecarPath).catch(() => {})
    return { ok: true }
  }

  /** A tree file: checked whole against its root (the bad 4 KiB blocks of the tree file are named,
   * so their senders can be charged), then stored as the checked tree. */
  private async finishTree(root: Uint8Array): Promise<FinishResult> {
    let bytes
    try {
      bytes = await readFile(this.dataPath)
    } catch (err) {
      throw fsError(err, `reading the downloaded tree ${this.id}`)
    }
    const check = parseTree(bytes, root)
    await unlink(this.dataPath).catch(() => {})
    await unlink(this.sidecarPath).catch(() => {})
    if (!check.ok) return { ok: false, reason: check.error, badBlocks: check.badTreeBlocks }
    await mkdir(dirname(this.sharedPath), { recursive: true }).catch(() => { /* saveTree reports it */ })
    await saveTree(this.sharedPath, check.tree)
    return { ok: true }
  }

  /** A `blake3/` file: every block was checked against the verified tree before it was written, so
   * the whole file matches its root with no second pass. The SHA-256 hashed on the way names the
   * same file under its SHA-256 id too (a hard link), as the reference node keeps both. */
  private async finishBlake3(sha256: string): Promise<FinishResult> {
    try {
      await mkdir(dirname(this.sharedPath), { recursive: true })
      await rename(this.dataPath, this.sharedPath)
    } catch (err) {
      throw fsError(err, `moving ${this.id} into shared`)
    }
    await unlink(this.sidecarPath).catch(() => {})
    await link(this.sharedPath, join(dirname(dirname(this.sharedPath)), sha256)).catch(() => { /* already there, or no links here: the blake3 id still serves it */ })
    return { ok: true }
  }

  /** Up to `length` bytes from `offset`, cut to the whole blocks held from there on (the last block
   * of the file may be short); empty when the block at `offset` is not here. Only for ids whose
   * blocks are verified before they are written (`blake3/`): this is how a file still downloading is
   * relayed. */
  async readHeld(offset: number, length: number): Promise<Buffer> {
    if (this.closing || this.fileSize === null || !Number.isSafeInteger(offset) || offset < 0 || offset % BLOCK_SIZE !== 0) return Buffer.alloc(0)
    const size = this.fileSize
    let end = offset
    while (end < Math.min(size, offset + length) && this.hasBlock(end / BLOCK_SIZE)) end = Math.min(size, end + BLOCK_SIZE)
    end = Math.min(end, offset + length)
    if (end <= offset) return Buffer.alloc(0)
    return this.track(readExactly(this.data, end - offset, offset, `reading ${this.id}`))
  }

  /** Stops and deletes the partial file and its sidecar. */
  async discard(): Promise<void> {
    await this.close()
    await unlink(this.dataPath).catch(() => {})
    await unlink(this.sidecarPath).catch(() => {})
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.onClose()
      if (this.timer) clearTimeout(this.timer)
      this.timer = null
      await Promise.allSettled([...this.inflight])
      await this.flush()
      await this.data.close().catch(() => {})
      await this.sidecar.close().catch(() => {})
      this.notify()
      this.watchers.clear()
    })()
    return this.closing
  }

  get closed(): boolean {
    return this.closing !== null
  }

  private async hashData(): Promise<string> {
    await this.hashing
    const h = this.hash
    const size = this.fileSize as number
    for (let pos = this.hashedBytes; pos < size; pos += HASH_READ_BYTES) {
      h.update(await readExactly(this.data, Math.min(HASH_READ_BYTES, size - pos), pos, `hashing ${this.id}`))
    }
    return h.digest('hex')
  }

  private allocate(size: number): void {
    this.fileSize = size
    this.have = new Uint8Array(bitmapBytes(size))
    this.durable = new Uint8Array(bitmapBytes(size))
    this.haveCount = 0
  }

  private assertOpen(): void {
    if (this.closing) throw new StoreError('ERR_CLOSED', `download ${this.id} is closed`)
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p)
    const done = (): void => { this.inflight.delete(p) }
    p.then(done, done)
    return p
  }
}

function bitmapBytes(size: number): number {
  return Math.ceil(Math.ceil(size / BLOCK_SIZE) / 8)
}

async function openRw(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r+')
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw fsError(err, `opening ${path}`)
  }
  try {
    return await open(path, 'w+')
  } catch (err) {
    throw fsError(err, `creating ${path}`)
  }
}
