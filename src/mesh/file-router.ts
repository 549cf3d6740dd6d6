// Per-node routing for classic file transfer. A CjNode has no way to remove a handler, so the
// `Content` and `MaybeTheyHaveSome` handlers are attached once per node, here, and route by id to
// whichever download is running. The router also remembers who delivered which file, so a server
// that does not have a file (yet) can point askers at peers that do.
import type { CjNode } from './node.ts'
import type { MessageOf } from './messages.ts'
import { TransferError } from './transfer-error.ts'

/** Files whose holders we remember: bounded because ids come from remote peers. */
export const MAX_HOLDER_IDS = 1024
/** Holders kept per file: more than any answer would list (MaybeTheyHaveSome carries a few). */
export const MAX_HOLDERS_PER_ID = 16

/** What a running download receives. */
export interface DownloadSink {
  content(m: MessageOf<'Content'>, from: string): void
  hints(peers: string[], from: string): void
  /** Peers that have delivered blocks of it to us (for MaybeTheyHaveSome while we download). */
  suppliers(): string[]
  /** A reader wants the bytes from `offset` first (the HTTP gateway after a player's seek). */
  focus?(offset: number): void
  /** A partial provider's map of the blocks it holds (IHaveChunks for a file id). */
  holdings?(from: number, bits: Buffer, addr: string): void
}

/** Who is known to hold a file: peers that delivered verified copies or blocks to us. Oldest id evicted first. */
export class HolderBook {
  private book = new Map<string, string[]>()

  add(id: string, addr: string): void {
    let list = this.book.get(id)
    if (!list) {
      if (this.book.size >= MAX_HOLDER_IDS) this.book.delete(this.book.keys().next().value as string)
      list = []
      this.book.set(id, list)
    }
    const at = list.indexOf(addr)
    if (at >= 0) list.splice(at, 1)
    list.unshift(addr) // freshest first
    if (list.length > MAX_HOLDERS_PER_ID) list.length = MAX_HOLDERS_PER_ID
  }

  get(id: string): string[] { return this.book.get(id) ?? [] }
}

const routers = new WeakMap<CjNode, FileRouter>()

export class FileRouter {
  readonly holders = new HolderBook()
  private downloads = new Map<string, DownloadSink>()

  private constructor(node: CjNode) {
    node.handle('Content', (m, ctx) => this.downloads.get(m.id)?.content(m, ctx.from))
    node.handle('MaybeTheyHaveSome', (m, ctx) => this.downloads.get(m.id)?.hints(m.peers, ctx.from))
    node.handle('IHaveChunks', (m, ctx) => this.downloads.get(m.id)?.holdings?.(m.from, m.bits, ctx.from))
  }

  /** The node's router, attached on first use. */
  static of(node: CjNode): FileRouter {
    let r = routers.get(node)
    if (!r) { r = new FileRouter(node); routers.set(node, r) }
    return r
  }

  /** Claims an id for one download; returns the release function. */
  register(id: string, sink: DownloadSink): () => void {
    if (this.downloads.has(id)) {
      throw new TransferError('ERR_BUSY', `file ${id} is already downloading`)
    }
    this.downloads.set(id, sink)
    return () => { if (this.downloads.get(id) === sink) this.downloads.delete(id) }
  }

  downloading(id: string): DownloadSink | undefined { return this.downloads.get(id) }
}
