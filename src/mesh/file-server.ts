// Serving classic cjp2p files: `PleaseSendContent` for a file id (a sha256 hex, or a plain name in
// shared/ as the reference node also serves, or the reference's `blake3/<root>` and
// `blake3_tree_v2/<root>`) gets `Content` with exactly min(length, eof - offset) bytes and always
// `eof`. A `blake3/` file we are still downloading is served from its verified blocks (each was
// checked against the tree before it was written), as the reference does; any other file we are
// still downloading, or do not have, gets `MaybeTheyHaveSome` with peers known to hold it, or nothing.
import type { CjNode, Ctx } from './node.ts'
import type { MessageOf } from './messages.ts'
import { BLOCK_SIZE, MAX_HAVE_BITMAP_BYTES, MAX_PEERS_PER_LIST, MAX_REQUEST_LENGTH, encodedSize } from './messages.ts'
import { FileRouter } from './file-router.ts'
import { SharedFileReader } from './shared-file-reader.ts'
import { isBlake3ContentId, isServableId } from '../store/file-store.ts'
import type { FileStore } from '../store/file-store.ts'
import type { Logger } from '../util/logger.ts'
import type { MetricsSink } from '../metrics/types.ts'

/** Data bytes for a sender that has not echoed our cookie: what the current reference node gives,
 * enough to learn `eof` and not enough to make us a useful amplifier. */
export const UNVERIFIED_DATA_BYTES = 32
/** Peers listed in a hint to an unverified sender, as the reference node does. */
export const UNVERIFIED_HINT_PEERS = 3

export interface FileServerComponents { node: CjNode; store: FileStore; logger?: Logger; metrics?: MetricsSink }
export interface FileServerInit {
  /** Cap on the data per reply to a peer that speaks our extension. A reply is one datagram, sized
   * to what the node may send that peer (CjNode.datagramLimit: 40 KiB on loopback or with a large
   * --max-datagram, one block otherwise). Default MAX_REQUEST_LENGTH. */
  ourMaxDataBytes?: number
}

export interface FileServerCounters {
  requests: number
  served: number
  bytesServed: number
  hinted: number
  /** Answers from the verified blocks of a `blake3/` file still downloading here. */
  relayed: number
  /** Maps of the blocks held (IHaveChunks) sent with hints for a `blake3/` file still downloading. */
  haveMaps: number
  ignored: number
  unknown: number
  /** Requests whose id was a path (`..`, `/`, `\\`, NUL): never looked up, charged to the sender. */
  pathTricks: number
}

export class FileServer {
  readonly counters: FileServerCounters = { requests: 0, served: 0, bytesServed: 0, hinted: 0, relayed: 0, haveMaps: 0, ignored: 0, unknown: 0, pathTricks: 0 }
  private node: CjNode
  private router: FileRouter
  private files: SharedFileReader
  private store: FileStore
  private ourMax: number
  private closed = false

  constructor(c: FileServerComponents, init: FileServerInit = {}) {
    this.node = c.node
    this.router = FileRouter.of(c.node)
    this.store = c.store
    this.files = new SharedFileReader(c.store.sharedDir, c.node.timers, isServableId)
    this.ourMax = Math.max(BLOCK_SIZE, Math.min(init.ourMaxDataBytes ?? MAX_REQUEST_LENGTH, MAX_REQUEST_LENGTH))
    c.node.handle('PleaseSendContent', (m, ctx) => this.answer(m, ctx))
  }

  private async answer(m: MessageOf<'PleaseSendContent'>, ctx: Ctx): Promise<void> {
    if (this.closed) return
    const servable = isServableId(m.id)
    // Paths never reach the store, and `stream/...` ids belong to the stream swarm's handler.
    if (!servable && (m.id.includes('/') || m.id.includes('\\') || m.id.startsWith('.') || m.id.includes('\0'))) {
      // A path where a file id goes is an attempt to leave shared/: counted and charged. (`stream/`
      // ids have a slash too but are not ours to judge, nor are other `blake3...` spellings.)
      if (!m.id.startsWith('stream/') && !m.id.startsWith('blake3')) { this.counters.pathTricks++; this.node.penalise(ctx.from, 'lie') }
      return
    }
    this.counters.requests++
    if (!servable) { this.counters.ignored++; return }
    // Under --max-upload, answers as short as the limit wants them (UploadPacer.fileDatagramBytes).
    const limit = Math.min(this.node.datagramLimit(ctx.peer), this.node.upload.fileDatagramBytes())
    let max = ctx.peer.speaksStreams ? Math.min(this.ourMax, dataBytesFitting(limit)) : BLOCK_SIZE
    // An unverified asker gets a few bytes and eof, shrunk to what the 2x budget leaves after our
    // cookie request, so that the first answer always carries both (an empty Content still says eof).
    if (!ctx.verified) max = Math.max(0, Math.min(UNVERIFIED_DATA_BYTES, Math.floor((ctx.room() - contentOverhead(m.id, m.offset)) / 4) * 3))
    if (this.router.downloading(m.id)) { await this.relay(m, ctx, max); return }
    const got = await this.files.read(m.id, m.offset, Math.min(m.length, max))
    if (this.closed) return
    if (!got) { this.hint(m.id, ctx); return }
    this.counters.served++
    this.counters.bytesServed += got.data.length
    ctx.reply({ type: 'Content', id: m.id, offset: m.offset, data: got.data, eof: got.size }, 'file', 'relay')
  }

  /** A file we are downloading: verified blocks of a `blake3/` id from where the asker starts (an
   * unverified asker gets its few bytes of the first), else a hint. */
  private async relay(m: MessageOf<'PleaseSendContent'>, ctx: Ctx, max: number): Promise<void> {
    const dl = isBlake3ContentId(m.id) ? this.store.downloading(m.id) : undefined
    const size = dl?.size
    const data = dl && size !== null && size !== undefined && m.offset < size ? await dl.readHeld(m.offset, Math.min(m.length, Math.max(max, 1))) : undefined
    if (this.closed) return
    if (!data || data.length === 0 || size === null || size === undefined) {
      // What we hold from the asker's block on, so it asks us only for that (and others for the rest).
      if (dl && size !== null && size !== undefined && ctx.verified) {
        const from = Math.floor(m.offset / BLOCK_SIZE)
        ctx.reply({ type: 'IHaveChunks', id: m.id, from, bits: dl.heldBits(from, MAX_HAVE_BITMAP_BYTES * 8) }, 'file', 'relay')
        this.counters.haveMaps++
      }
      this.hint(m.id, ctx)
      return
    }
    this.counters.served++
    this.counters.relayed++
    const part = data.subarray(0, Math.min(data.length, max))
    this.counters.bytesServed += part.length
    ctx.reply({ type: 'Content', id: m.id, offset: m.offset, data: part, eof: size }, 'file', 'relay')
  }

  /** While we download a file (or never had it), point the asker at peers that delivered it to us. */
  private hint(id: string, ctx: Ctx): void {
    const dl = this.router.downloading(id)
    const known = dl ? dl.suppliers() : this.router.holders.get(id)
    const peers = known.filter((a) => a !== ctx.from && !this.node.isSelf(a)).slice(0, ctx.verified ? MAX_PEERS_PER_LIST : UNVERIFIED_HINT_PEERS)
    if (peers.length === 0) { this.counters.unknown++; return }
    this.counters.hinted++
    ctx.reply({ type: 'MaybeTheyHaveSome', id, peers }, 'file', 'relay')
  }

  /** Idempotent. The node keeps the handler (it has no removal), which then answers nothing. */
  close(): void {
    this.closed = true
    this.files.close()
  }
}

/** Encoded bytes of a Content for this id and offset with no data and an 11-digit eof. */
function contentOverhead(id: string, offset: number): number {
  return encodedSize({ type: 'Content', id, offset, data: Buffer.alloc(0), eof: 1e10 })
}

/** Whole blocks of data whose Content (base64, id, cookie echo: 600 bytes of room) fits a datagram
 * of `limit` bytes; at least one block (the LCDP size carries one). */
export function dataBytesFitting(limit: number): number {
  return Math.max(BLOCK_SIZE, Math.floor(((limit - 600) * 3) / 4 / BLOCK_SIZE) * BLOCK_SIZE)
}
