// The downloads a running node makes on behalf of its HTTP gateway and local API: at most one per
// id, shared by every reader and by `get` handing its work over, cancellable, listed with progress.
// Readers open a FileReader (file-reader.ts) that waits for the blocks of the range it serves.
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import type { CjNode } from './node.ts'
import { download, isTransferError } from './file-download.ts'
import type { DownloadProgress, DownloadResult } from './file-download.ts'
import { FileRouter } from './file-router.ts'
import { FileReader } from './file-reader.ts'
import type { FileStore, Download } from '../store/file-store.ts'
import { isBlake3ContentId, isFetchableId } from '../store/file-id.ts'
import type { Logger } from '../util/logger.ts'
import type { MetricsSink } from '../metrics/types.ts'
import { CodedError } from '../util/coded-error.ts'

export const FetchState = {
  starting: 'starting',
  downloading: 'downloading',
  done: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
} as const
export type FetchState = (typeof FetchState)[keyof typeof FetchState]

/** Finished fetches kept for listing: enough to see what just ended, bounded because ids come
 * from HTTP requests. */
export const MAX_FINISHED_FETCHES = 64
/** Fetches running at once: each holds two file handles, a session and its requests. */
export const MAX_RUNNING_FETCHES = 32

export class FetchError extends CodedError<'ERR_BAD_ID' | 'ERR_FETCH_FAILED' | 'ERR_TOO_MANY' | 'ERR_CLOSED'> {}

export interface FetchView {
  id: string
  name: string | null
  state: FetchState
  size: number | null
  bytes: number
  rateBps: number
  peers: number
  resumedBlocks: number | null
  error: string | null
  startedAt: number
}

export interface FileFetchesComponents {
  node: CjNode
  store: FileStore
  logger: Logger
  metrics?: MetricsSink
  /** Looks for providers of an id until the signal aborts (the runtime's DHT lookup). */
  discover?: (id: string, signal: AbortSignal) => void
  /** A file became complete here (shared or fetched): the runtime announces it. */
  provide?: (id: string) => void
  /** Transfers in progress, kept across restarts (the runtime's state.db): a fetch is written when
   * it starts and removed when it ends, except when it ends because the node closes. */
  journal?: { started(id: string, name: string | undefined, at: number): void; ended(id: string): void }
}

export interface FileFetchesInit {
  /** A fetch that received no block for this long fails (the next reader starts it again). */
  stallTimeoutMs?: number
}

/** One fetch of one id. */
export class Fetch {
  private _state: FetchState = FetchState.starting
  readonly abort = new AbortController()
  progress: DownloadProgress | null = null
  result: DownloadResult | null = null
  error: string | null = null
  /** The store's incoming copy, once opened. */
  download: Download | null = null
  /** The reader whose position the fetch follows: the newest to start a response. An older one
   * still open (a player's connection from before its seek) must not pull the priority back. */
  focusOwner: object | null = null
  /** Settles when the fetch ends (never rejects: see state and error). */
  finished!: Promise<void>
  /** Settles once `download` is open, or the fetch failed before that. */
  readonly opened: Promise<void>
  markOpened!: () => void

  constructor(readonly id: string, readonly startedAt: number, private log: Logger) {
    this.opened = new Promise((resolve) => { this.markOpened = resolve })
  }

  get state(): FetchState { return this._state }
  set state(next: FetchState) {
    if (next === this._state) return
    this.log.debug('fetch state', { id: this.id, prev: this._state, next })
    this._state = next
  }

  get running(): boolean { return this._state === FetchState.starting || this._state === FetchState.downloading }
}

export class FileFetches {
  private fetches = new Map<string, Fetch>()
  private closed = false
  private log: Logger

  constructor(private components: FileFetchesComponents, private init: FileFetchesInit = {}) {
    this.log = components.logger.child('fetch')
  }

  /** Starts fetching `id` into incoming/ unless it is complete or already on its way; the running
   * fetch is shared. Returns null when the file is complete here. */
  async start(id: string, opts: { name?: string; peers?: string[] } = {}): Promise<Fetch | null> {
    if (this.closed) throw new FetchError('ERR_CLOSED', 'node is closing')
    if (!isFetchableId(id)) throw new FetchError('ERR_BAD_ID', `not a content id (lowercase sha256 hex, or blake3/<hex>): ${JSON.stringify(id)}`)
    const { store } = this.components
    if (opts.name) store.names.set(id, opts.name)
    const running = this.fetches.get(id)
    if (running?.running) return running
    if (await store.stat(id)) return null
    const again = this.fetches.get(id)
    if (again?.running) return again // another caller started it while we looked
    if ([...this.fetches.values()].filter((f) => f.running).length >= MAX_RUNNING_FETCHES) {
      throw new FetchError('ERR_TOO_MANY', `${MAX_RUNNING_FETCHES} downloads are running; cancel one first`)
    }
    const f = new Fetch(id, this.components.node.timers.now(), this.log)
    this.fetches.delete(id)
    this.fetches.set(id, f)
    this.trim()
    f.finished = this.run(f, opts.peers ?? [])
    return f
  }

  private async run(f: Fetch, peers: string[]): Promise<void> {
    const { node, store, logger, metrics, discover } = this.components
    try {
      // Opened here, before download() asks for it, so readers can reach the incoming copy (the
      // store hands both of us the same object).
      f.download = await store.beginDownload(f.id)
      f.markOpened()
      f.state = FetchState.downloading
      this.components.journal?.started(f.id, store.names.get(f.id), f.startedAt)
      discover?.(f.id, f.abort.signal)
      f.result = await download(node, store, f.id, {
        peers, signal: f.abort.signal, logger, metrics, stallTimeoutMs: this.init.stallTimeoutMs,
        onProgress: (p) => { f.progress = p },
      })
      f.state = FetchState.done
      this.components.provide?.(f.id)
      this.log.info(`fetched ${f.id}: ${f.result.size} bytes from ${f.result.suppliers.length} peer(s), ${f.result.resumedBlocks} block(s) resumed`)
    } catch (err) {
      f.error = (err as Error).message
      f.state = f.abort.signal.aborted ? FetchState.cancelled : FetchState.failed
      if (!f.abort.signal.aborted) this.log.warn(`fetch of ${f.id} failed: ${f.error}`, { code: isTransferError(err) ? err.code : undefined })
      await f.download?.close()
    } finally {
      f.markOpened()
      const closing = (f.abort.signal.reason as FetchError | undefined)?.code === 'ERR_CLOSED'
      if (f.state !== FetchState.starting && !closing) this.components.journal?.ended(f.id)
      f.abort.abort()
    }
  }

  /** Cancels a running fetch (the partial copy stays in incoming/ for a later resume). */
  cancel(id: string): boolean {
    const f = this.fetches.get(id)
    if (!f?.running) return false
    f.abort.abort(new FetchError('ERR_FETCH_FAILED', 'cancelled'))
    return true
  }

  get(id: string): Fetch | undefined { return this.fetches.get(id) }

  name(id: string): string | undefined { return this.components.store.names.get(id) }

  /** Starts (or joins) a fetch for the local API; 'complete' when the file is already here. */
  async fetch(id: string, opts: { name?: string; peers?: string[] } = {}): Promise<'started' | 'complete'> {
    return (await this.start(id, opts)) ? 'started' : 'complete'
  }

  /** Shares a local file (the API's `share`): copied into shared/ under its id and announced. */
  async share(path: string): Promise<{ id: string; blake3: string; size: number }> {
    const shared = await this.components.store.shareFile(path)
    this.components.provide?.(shared.id)
    this.components.provide?.(shared.blake3)
    return shared
  }

  /** A reader of `id` from byte 0 to its end: the complete file, or the fetch started or joined for
   * it. Waits for the size (a fetch learns it from the first answer) until `signal` aborts. */
  async reader(id: string, signal: AbortSignal): Promise<FileReader> {
    const { store, node } = this.components
    for (let attempt = 0; ; attempt++) {
      const have = await store.stat(id)
      if (have) {
        const fh = await open(join(store.sharedDir, id), 'r')
        return new FileReader({ fh, size: have.size, verified: () => true })
      }
      const f = await this.start(id)
      if (!f) continue // completed meanwhile
      await this.untilSized(f, signal)
      const dl = f.download
      if (!dl || dl.size === null) {
        if (attempt < 1 && f.state === FetchState.done) continue
        throw new FetchError('ERR_FETCH_FAILED', f.error ?? `fetch of ${id} ended without a size`)
      }
      // The fetch may finish between our look at shared/ and this open: its copy is then renamed
      // there, and the next turn of the loop opens it in shared/.
      const fh = await open(dl.dataFile, 'r').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' && attempt < 5) return null
        throw err
      })
      if (!fh) continue
      return new FileReader({
        fh, size: dl.size, download: dl, fetch: f,
        // A `blake3/` block is on disk only once it matched the verified tree.
        verified: () => f.state === FetchState.done || isBlake3ContentId(id),
        focus: (offset) => FileRouter.of(node).downloading(id)?.focus?.(offset),
      })
    }
  }

  private async untilSized(f: Fetch, signal: AbortSignal): Promise<void> {
    await f.opened
    const dl = f.download
    if (!dl || dl.size !== null || !f.running) return
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (signal.aborted) { done(); reject(signal.reason); return }
        // The size is set before the first block is written, and every write tells the watchers.
        if (dl.size !== null || !f.running) { done(); resolve() }
      }
      const unwatch = dl.watch(check)
      const done = () => { unwatch(); signal.removeEventListener('abort', check) }
      signal.addEventListener('abort', check)
      void f.finished.then(check)
      check()
    })
  }

  async list(): Promise<{ shared: Array<{ id: string; name: string | null; size: number }>; fetches: FetchView[] }> {
    const { store } = this.components
    const shared = []
    for (const id of await store.list()) {
      const st = await store.stat(id)
      if (st) shared.push({ id, name: store.names.get(id) ?? null, size: st.size })
    }
    const fetches = [...this.fetches.values()].map((f): FetchView => ({
      id: f.id, name: store.names.get(f.id) ?? null, state: f.state,
      size: f.result?.size ?? f.download?.size ?? f.progress?.size ?? null,
      bytes: f.result?.size ?? f.progress?.bytes ?? 0,
      rateBps: f.running ? Math.round(f.progress?.rateBps ?? 0) : 0,
      peers: f.running ? f.progress?.peers ?? 0 : f.result?.suppliers.length ?? 0,
      resumedBlocks: f.result?.resumedBlocks ?? null,
      error: f.error, startedAt: f.startedAt,
    }))
    return { shared, fetches }
  }

  /** Drops the oldest finished fetches past the cap. */
  private trim(): void {
    const finished = [...this.fetches.values()].filter((f) => !f.running)
    for (const f of finished.slice(0, Math.max(0, finished.length - MAX_FINISHED_FETCHES))) this.fetches.delete(f.id)
  }

  /** Cancels every running fetch and waits for them to let go of their files. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const running = [...this.fetches.values()].filter((f) => f.running)
    for (const f of running) f.abort.abort(new FetchError('ERR_CLOSED', 'node is closing'))
    await Promise.allSettled(running.map((f) => f.finished))
  }
}
