// Positional reads from files in shared/, through a few cached open handles and read-ahead windows.
// A file is served in thousands of 4 KiB reads per second; opening, stat-ing and closing it for
// each (three extra thread-pool round trips) costs more than the read itself, and so does one
// thread-pool read per block: a window of 256 KiB read once answers 64 classic requests.
import { open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { Clock } from '../util/timers.ts'

/** Files kept open: each holds a descriptor, and a node serves only a few files at any moment. */
export const MAX_OPEN_FILES = 16
/** A handle older than this is reopened, so a file deleted or replaced in shared/ is noticed soon. */
const HANDLE_TTL_MS = 5000
/** Bytes read ahead at once: 64 classic blocks, 6 of our 40 KiB ranges. */
export const READ_AHEAD_BYTES = 256 * 1024
/** Windows kept per open file (a few peers fetching different parts): 1 MiB per file, 16 MiB at most. */
const WINDOWS_PER_FILE = 4

interface Window { start: number; end: number; ready: Promise<Buffer | undefined> }
interface Entry { ready: Promise<{ fh: FileHandle; size: number } | undefined>; openedAt: number; users: number; retired: boolean; windows: Window[] }

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
    return this.use(id, async (f, e) => {
      const n = Math.max(0, Math.min(length, f.size - offset))
      if (n === 0) return { data: Buffer.alloc(0), size: f.size }
      let w = e.windows.find((x) => x.start <= offset && offset + n <= x.end)
      if (!w) {
        const end = Math.min(f.size, offset + Math.max(n, READ_AHEAD_BYTES))
        w = { start: offset, end, ready: readFully(f.fh, offset, end - offset) }
        e.windows.push(w)
        if (e.windows.length > WINDOWS_PER_FILE) e.windows.shift()
      }
      const buf = await w.ready
      if (!buf) { e.windows = e.windows.filter((x) => x !== w); return undefined } // shrank under us: better no answer than a wrong one
      // A view, not a copy: the window is never written again, and the answer is encoded at once.
      return { data: buf.subarray(offset - w.start, offset - w.start + n), size: f.size }
    })
  }

  private async use<T>(id: string, fn: (f: { fh: FileHandle; size: number }, e: Entry) => Promise<T | undefined>): Promise<T | undefined> {
    if (this.closed || !this.isServable(id)) return undefined
    const e = this.entry(id)
    e.users++
    try {
      const f = await e.ready
      if (!f) { this.retire(id, e); return undefined } // not there (yet): never cache a miss
      return await fn(f, e)
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
    const fresh: Entry = { ready: openFile(join(this.dir, id)), openedAt: now, users: 0, retired: false, windows: [] }
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

async function readFully(fh: FileHandle, position: number, n: number): Promise<Buffer | undefined> {
  const data = Buffer.allocUnsafe(n)
  let done = 0
  try {
    while (done < n) {
      const { bytesRead } = await fh.read(data, done, n - done, position + done)
      if (bytesRead === 0) return undefined
      done += bytesRead
    }
  } catch {
    return undefined
  }
  return data
}
