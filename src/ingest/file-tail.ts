// Follows a file another process is appending to (ffmpeg's single growing media file) and hands
// each new run of bytes to a consumer, awaiting it before reading on: a slow consumer leaves bytes
// on disk instead of in memory. The file may not exist yet when we start.

import { open, type FileHandle } from 'node:fs/promises'
import type { IngestLogger } from './ingest-components.ts'
import { IngestError } from './ingest-error.ts'
import { FollowedPath } from './followed-path.ts'

/** fs.watch can miss events (network filesystems, editors that rename); the poll bounds the delay then. */
export const DEFAULT_POLL_MS = 250
/** Bytes per read and per consumer call: about a second of 1.5 Mb/s video, small enough to stream in. */
export const DEFAULT_READ_SIZE = 256 * 1024

export interface FileTailInit {
  path: string
  /** Byte offset to start reading from (default 0). */
  position?: number
  pollMs?: number
  readSize?: number
}

/** Emits 'error' (IngestError or the consumer's rejection) once; it then stops reading. */
export class FileTail extends FollowedPath {
  private readonly onData: (bytes: Buffer) => Promise<void>
  private readonly buffer: Buffer
  private pos: number
  private handle: FileHandle | null = null

  constructor (components: { logger: IngestLogger }, init: FileTailInit, onData: (bytes: Buffer) => Promise<void>) {
    super(components.logger, init.path, init.pollMs ?? DEFAULT_POLL_MS)
    this.pos = init.position ?? 0
    this.buffer = Buffer.allocUnsafe(init.readSize ?? DEFAULT_READ_SIZE)
    this.onData = onData
  }

  /** Bytes delivered to the consumer so far (a position in the file). */
  get position (): number {
    return this.pos
  }

  /** Reads to the current end of file and resolves once the consumer took it all (use after the writer exited). */
  async drain (): Promise<void> {
    await this.passAndSettle()
  }

  /** Stops watching and reading; resolves after an in-flight consumer call settled. Idempotent. */
  async close (): Promise<void> {
    if (!await this.stopFollowing()) return
    const h = this.handle
    this.handle = null
    await h?.close().catch(() => {})
  }

  protected async readOnce (): Promise<void> {
    if (!this.handle) {
      try {
        this.handle = await open(this.path, 'r')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
        throw err
      }
    }
    while (!this.closed) {
      const { bytesRead } = await this.handle.read(this.buffer, 0, this.buffer.length, this.pos)
      if (bytesRead === 0) {
        const { size } = await this.handle.stat()
        if (size < this.pos) {
          throw new IngestError('ERR_FILE_TRUNCATED', `${this.path} shrank from ${this.pos} to ${size} bytes while being followed`)
        }
        return
      }
      // Copy: the consumer may keep the bytes while we reuse the read buffer.
      const bytes = Buffer.from(this.buffer.subarray(0, bytesRead))
      this.pos += bytesRead
      await this.onData(bytes)
    }
  }

}
