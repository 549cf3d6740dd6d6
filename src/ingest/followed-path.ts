// What the file tail and the playlist follower share: watch a path, run one read pass at a time on
// every change (a change during a pass schedules exactly one more), fail once with 'error', and
// close only after the pass in flight has settled.
import { EventEmitter } from 'node:events'
import type { IngestLogger } from './ingest-components.ts'
import { watchPath } from './watch-path.ts'

export abstract class FollowedPath extends EventEmitter {
  readonly path: string
  protected readonly logger: IngestLogger
  protected readonly pollMs: number
  protected closed = false
  protected failed: Error | null = null
  private stopWatching: (() => void) | null = null
  private running: Promise<void> | null = null
  private again = false

  constructor (logger: IngestLogger, path: string, pollMs: number) {
    super()
    this.logger = logger
    this.path = path
    this.pollMs = pollMs
  }

  /** One read pass: hand over whatever is new. Throwing fails the follower. */
  protected abstract readOnce (): Promise<void>

  start (): void {
    if (this.stopWatching || this.closed) return
    this.stopWatching = watchPath(this.path, this.pollMs, () => this.kick(), this.logger)
    this.kick()
  }

  /** Runs one more pass and resolves once every pass settled; throws the failure, if any. */
  protected async passAndSettle (): Promise<void> {
    this.kick()
    await this.settled()
    if (this.failed) throw this.failed
  }

  /** Stops watching; resolves after the pass in flight. False when already closed. */
  protected async stopFollowing (): Promise<boolean> {
    if (this.closed) return false
    this.closed = true
    this.unwatch()
    await this.settled()
    return true
  }

  private kick (): void {
    if (this.closed || this.failed) return
    if (this.running) {
      this.again = true
      return
    }
    this.again = false
    this.running = this.readOnce()
      .catch((err: Error) => this.fail(err))
      .finally(() => {
        this.running = null
        if (this.again) this.kick()
      })
  }

  private async settled (): Promise<void> {
    while (this.running) await this.running
  }

  private unwatch (): void {
    this.stopWatching?.()
    this.stopWatching = null
  }

  private fail (err: Error): void {
    if (this.failed) return
    this.failed = err
    this.unwatch()
    this.emit('error', err)
  }
}
