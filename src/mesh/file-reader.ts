// Reads one file for an HTTP response: a complete file, or the incoming copy of a fetch in
// progress, whose blocks are read only once the store has written them. Its own file handle
// stays valid when the finished copy is renamed into shared/ (same inode).
import type { FileHandle } from 'node:fs/promises'
import { BLOCK_SIZE } from './messages.ts'
import type { Download } from '../store/file-store.ts'
import type { Fetch } from './file-fetches.ts'
import { readExactly } from '../store/file-io.ts'
import { CodedError } from '../util/coded-error.ts'

export class ReadError extends CodedError<'ERR_FETCH_FAILED' | 'ERR_ABORTED'> {}

export interface FileReaderInit {
  fh: FileHandle
  size: number
  /** True once every byte matched the id (always, for a complete file). */
  verified: () => boolean
  /** The incoming copy and its fetch, for a file still downloading. */
  download?: Download
  fetch?: Fetch
  /** Asks the fetch to get the bytes from `offset` first. */
  focus?: (offset: number) => void
}

export class FileReader {
  readonly size: number
  private lastFocus = -1
  private closed = false

  constructor(private init: FileReaderInit) {
    this.size = init.size
  }

  get verified(): boolean { return this.init.verified() }

  /** Every byte of [start, end) is on disk here (received; verified only if `verified`). */
  has(start: number, end: number): boolean {
    const dl = this.init.download
    if (!dl || dl.complete || this.init.fetch?.state === 'done') return true
    for (let i = Math.floor(start / BLOCK_SIZE); i * BLOCK_SIZE < end; i++) if (!dl.hasBlock(i)) return false
    return true
  }

  /** The first block of [start, end) not here yet, as a byte offset; null when all are. */
  private firstMissing(start: number, end: number): number | null {
    const dl = this.init.download
    if (!dl || this.has(start, end)) return null
    for (let i = Math.floor(start / BLOCK_SIZE); i * BLOCK_SIZE < end; i++) if (!dl.hasBlock(i)) return i * BLOCK_SIZE
    return null
  }

  /** Points the fetch at `offset`, where this reader starts: it becomes the reader the fetch follows. */
  focus(offset: number): void {
    if (this.init.fetch) this.init.fetch.focusOwner = this
    this.follow(offset)
  }

  /** Moves the fetch to where this reader waits, if the fetch follows this reader (or nobody). */
  private follow(offset: number): void {
    const f = this.init.fetch
    if (offset === this.lastFocus || !this.init.focus || (f && f.focusOwner !== this && f.focusOwner !== null)) return
    this.lastFocus = offset
    this.init.focus(offset)
  }

  /** Resolves once [start, end) is here; rejects when the fetch ends without it or `signal` aborts. */
  async ready(start: number, end: number, signal: AbortSignal): Promise<void> {
    const { download: dl, fetch } = this.init
    if (!dl || !fetch) return
    for (;;) {
      const missing = this.firstMissing(start, end)
      if (missing === null) return
      if (signal.aborted) throw new ReadError('ERR_ABORTED', 'reader went away')
      if (!fetch.running) throw new ReadError('ERR_FETCH_FAILED', fetch.error ?? `fetch of ${fetch.id} ended`)
      this.follow(missing)
      await new Promise<void>((resolve) => {
        const wake = () => { unwatch(); signal.removeEventListener('abort', wake); resolve() }
        const unwatch = dl.watch(wake)
        signal.addEventListener('abort', wake)
        void fetch.finished.then(wake)
      })
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    return readExactly(this.init.fh, length, offset, 'reading content')
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.init.fetch?.focusOwner === this) this.init.fetch.focusOwner = null
    await this.init.fh.close().catch(() => {})
  }
}
