// Follows a file another process is appending to (ffmpeg's single growing media file) and hands
// each new run of bytes to a consumer, awaiting it before reading on: a slow consumer leaves bytes
// on disk instead of in memory. The file may not exist yet when we start.

import { EventEmitter } from 'node:events'
import { watch, type FSWatcher } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import type { IngestLogger } from './ingest-components.ts'
import { IngestError } from './ingest-error.ts'
import { SerialPump } from './serial-pump.ts'

/** fs.watch can miss events (network filesystems, editors that rename); the poll bounds the delay then. */
export const DEFAULT_POLL_MS = 250
/** Bytes per read and per consumer call: about a second of 1.5 Mb/s video, small enough to stream in. */
export const DEFAULT_READ_SIZE = 256 * 1024

/**
 * Calls onChange when `path` may have changed: fs.watch on its directory (survives the atomic
 * rename ffmpeg uses for playlists, and works before the file exists) plus a poll. Returns a stopper.
 * Neither keeps the process alive.
 */
export function watchPath (path: string, pollMs: number, onChange: () => void, logger?: IngestLogger): () => void {
  let watcher: FSWatcher | null = null
  const name = basename(path)
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      if (file === null || file === name || String(file).startsWith(name)) onChange()
    })
    watcher.on('error', (err) => {
      logger?.debug(`watch ${path} failed, polling only: ${err.message}`)
      watcher?.close()
      watcher = null
    })
  } catch (err) {
    logger?.debug(`cannot watch ${dirname(path)}, polling only: ${(err as Error).message}`)
  }
  const timer = setInterval(onChange, pollMs)
  timer.unref()
  return () => {
    clearInterval(timer)
    watcher?.close()
    watcher = null
  }
}

export interface FileTailInit {
  path: string
  /** Byte offset to start reading from (default 0). */
  position?: number
  pollMs?: number
  readSize?: number
}

/** Emits 'error' (IngestError or the consumer's rejection) once; it then stops reading. */
export class FileTail extends EventEmitter {
  readonly path: string
  private readonly logger: IngestLogger
  private readonly onData: (bytes: Buffer) => Promise<void>
  private readonly pollMs: number
  private readonly buffer: Buffer
  private pos: number
  private handle: FileHandle | null = null
  private readonly pump = new SerialPump(() => this.readOnce(), (err) => this.fail(err), () => this.closed || this.failed !== null)
  private stopWatching: (() => void) | null = null
  private closed = false
  private failed: Error | null = null

  constructor (components: { logger: IngestLogger }, init: FileTailInit, onData: (bytes: Buffer) => Promise<void>) {
    super()
    this.logger = components.logger
    this.path = init.path
    this.pos = init.position ?? 0
    this.pollMs = init.pollMs ?? DEFAULT_POLL_MS
    this.buffer = Buffer.allocUnsafe(init.readSize ?? DEFAULT_READ_SIZE)
    this.onData = onData
  }

  /** Bytes delivered to the consumer so far (a position in the file). */
  get position (): number {
    return this.pos
  }

  start (): void {
    if (this.stopWatching || this.closed) return
    this.stopWatching = watchPath(this.path, this.pollMs, () => this.kick(), this.logger)
    this.kick()
  }

  /** Reads to the current end of file and resolves once the consumer took it all (use after the writer exited). */
  async drain (): Promise<void> {
    this.pump.kick()
    await this.pump.idle()
    if (this.failed) throw this.failed
  }

  /** Stops watching and reading; resolves after an in-flight consumer call settled. Idempotent. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.stopWatching?.()
    this.stopWatching = null
    await this.pump.idle()
    const h = this.handle
    this.handle = null
    await h?.close().catch(() => {})
  }

  private kick (): void {
    this.pump.kick()
  }

  private async readOnce (): Promise<void> {
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

  private fail (err: Error): void {
    if (this.failed) return
    this.failed = err
    this.stopWatching?.()
    this.stopWatching = null
    this.emit('error', err)
  }
}
