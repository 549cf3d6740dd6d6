// Positional reads from files in shared/, through a few cached open handles. A file is served in
// thousands of 4 KiB reads per second; opening, stat-ing and closing it for each (three extra
// thread-pool round trips) costs more than the read itself.
import { open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { Clock } from '../util/timers.ts'

/** Files kept open: each holds a descriptor, and a node serves only a few files at any moment. */
export const MAX_OPEN_FILES = 16
/** A handle older than this is reopened, so a file deleted or replaced in shared/ is noticed soon. */
const HANDLE_TTL_MS = 5000

interface Entry { ready: Promise<{ fh: FileHandle; size: number } | undefined>; openedAt: number; users: number; retired: boolean }

export class SharedFileReader {
  private open = new Map<string, Entry>()
  private closed = false

  /** `isServable` vets ids before they become path components (the store's own rule). */
  constructor(private dir: string, private clock: Clock, private isServable: (id: string) => boolean) {}

  /** The size of a complete shared file, or undefined. */
  async size(id: string): Promise<number | undefined> {
    return this.use(id, async (f) => f.size)
  }

  /** Exactly min(length, size - offset) bytes (empty past the end), with the size; undefined if the file is gone. */
  async read(id: string, offset: number, length: number): Promise<{ data: Buffer; size: number } | undefined> {
    return this.use(id, async (f) => {
      const n = Math.max(0, Math.min(length, f.size - offset))
      const data = Buffer.allocUnsafe(n)
      let done = 0
      while (done < n) {
        const { bytesRead } = await f.fh.read(data, done, n - done, offset + done)
        if (bytesRead === 0) return undefined // shrank under us: better no answer than a wrong one
        done += bytesRead
      }
      return { data, size: f.size }
    })
  }

  private async use<T>(id: string, fn: (f: { fh: FileHandle; size: number }) => Promise<T | undefined>): Promise<T | undefined> {
    if (this.closed || !this.isServable(id)) return undefined
    const e = this.entry(id)
    e.users++
    try {
      const f = await e.ready
      if (!f) { this.retire(id, e); return undefined } // not there (yet): never cache a miss
      return await fn(f)
    } catch {
      this.retire(id, e)
      return undefined
    } finally {
      e.users--
      if (e.retired) void this.release(e)
    }
  }

  private entry(id: string): Entry {
    const now = this.clock.now()
    const e = this.open.get(id)
    if (e && now - e.openedAt < HANDLE_TTL_MS) return e
    if (e) this.retire(id, e)
    if (this.open.size >= MAX_OPEN_FILES) {
      const [oldId, old] = this.open.entries().next().value as [string, Entry]
      this.retire(oldId, old)
    }
    const fresh: Entry = { ready: openFile(join(this.dir, id)), openedAt: now, users: 0, retired: false }
    this.open.set(id, fresh)
    return fresh
  }

  private retire(id: string, e: Entry): void {
    if (this.open.get(id) === e) this.open.delete(id)
    e.retired = true
    void this.release(e)
  }

  /** Closes a retired handle once no read is using it. */
  private async release(e: Entry): Promise<void> {
    if (e.users > 0) return
    const f = await e.ready.catch(() => undefined)
    if (f && e.users === 0) { e.users = -1; await f.fh.close().catch(() => {}) }
  }

  /** Idempotent: closes every handle once its reads finish. */
  close(): void {
    this.closed = true
    for (const [id, e] of [...this.open]) this.retire(id, e)
  }
}

async function openFile(path: string): Promise<{ fh: FileHandle; size: number } | undefined> {
  let fh: FileHandle
  try { fh = await open(path, 'r') } catch { return undefined }
  try {
    const st = await fh.stat()
    if (st.isFile()) return { fh, size: st.size }
  } catch { /* fall through */ }
  await fh.close().catch(() => {})
  return undefined
}
