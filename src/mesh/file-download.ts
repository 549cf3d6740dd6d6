// Downloading one file by id from every peer that has it: the public entry point. The work is
// done by a DownloadSession (download-session.ts).
import type { CjNode } from './node.ts'
import { BLOCK_SIZE } from './messages.ts'
import { DownloadSession } from './download-session.ts'
import type { BlockVerifier } from './download-session.ts'
import { TransferError, isTransferError } from './transfer-error.ts'
import type { PeerAnswer } from './transfer-error.ts'
import type { DownloadProgress } from './progress-meter.ts'
import { isBlake3ContentId, isFetchableId } from '../store/file-store.ts'
import type { FileStore } from '../store/file-store.ts'
import { blake3TreeId, parseBlake3Id } from '../store/blake3/ids.ts'
import type { Blake3Tree } from '../store/blake3/tree.ts'
import type { Logger } from '../util/logger.ts'
import type { MetricsSink } from '../metrics/types.ts'

export type { DownloadProgress } from './progress-meter.ts'
export { isTransferError, TransferError } from './transfer-error.ts'
export type { PeerAnswer, PeerAnswers, TransferErrorCode } from './transfer-error.ts'
export { MAX_DOWNLOAD_PEERS, MAX_QUEUED_WRITES } from './download-session.ts'

export interface DownloadOptions {
  /** Addresses to ask besides every peer the node knows. */
  peers?: string[]
  /** Addresses never to ask (a peer that served a bad copy). */
  exclude?: string[]
  onProgress?: (p: DownloadProgress) => void
  /** Called when what a peer answered us changes: 'silent' (its first request timed out and
   * nothing came from it since we asked), 'lacks' (it answered but sent no block, or pointed
   * elsewhere with MaybeTheyHaveSome), 'supplying' (its first block arrived). */
  onPeerAnswer?: (peer: string, answer: PeerAnswer) => void
  progressIntervalMs?: number
  signal?: AbortSignal
  logger?: Logger
  metrics?: MetricsSink
  /** Give up with ERR_STALLED when no new block arrived for this long. */
  stallTimeoutMs?: number
  /** Cap on bytes asked per request of a peer known to speak our extension. Requests are sized to
   * what fits the datagrams we exchange with it (40 KiB on loopback or with a large --max-datagram,
   * one block otherwise). Default MAX_REQUEST_LENGTH. */
  ourRangeBytes?: number
}

export interface DownloadResult {
  id: string
  size: number
  /** Bytes fetched in this run (a resumed download fetched fewer than its size). */
  fetchedBytes: number
  fetchedBlocks: number
  /** Blocks the incoming copy already had when this run started. */
  resumedBlocks: number
  durationMs: number
  /** Peers that delivered blocks, most first. */
  suppliers: string[]
  stats: TransferStats
}

export interface TransferStats {
  requests: number
  /** Requests that went unanswered until their timeout, or were overtaken by later answers. */
  timeouts: number
  overtaken: number
  /** Blocks that arrived twice (endgame duplicates, late answers to timed-out requests). */
  duplicates: number
  /** Blocks that failed their BLAKE3 check (dropped, charged to the sender, fetched again). */
  rejected: number
  /** Endgame copies withdrawn because the block came from another peer first. */
  cancelled: number
  /** Requests withdrawn because a partial provider's map showed it lacks their blocks. */
  lacked: number
}

/** Attempts at a `blake3/` id's tree: each failed check charges the senders of the bad blocks and
 * leaves them out of the next attempt (the reference gives up after three too). */
const TREE_ATTEMPTS = 3

/** Downloads `id` into the store (incoming, then shared/<id> once its hash matches). A `blake3/<root>`
 * id fetches and checks its tree first, then checks every block against it on arrival. */
export async function download(node: CjNode, store: FileStore, id: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  if (!isFetchableId(id)) throw new TransferError('ERR_BAD_ID', `not a content id (lowercase sha256 hex, or blake3/<hex>): ${JSON.stringify(id)}`)
  if (opts.signal?.aborted) throw new TransferError('ERR_ABORTED', 'download aborted', { cause: opts.signal.reason })
  const have = await store.stat(id)
  if (have) {
    const stats = { requests: 0, timeouts: 0, overtaken: 0, duplicates: 0, rejected: 0, cancelled: 0, lacked: 0 }
    return { id, size: have.size, fetchedBytes: 0, fetchedBlocks: 0, resumedBlocks: Math.ceil(have.size / BLOCK_SIZE), durationMs: 0, suppliers: [], stats }
  }
  const verifier = isBlake3ContentId(id) ? treeVerifier(await storedTree(store, id) ?? await fetchTree(node, store, id, opts)) : undefined
  const dl = await store.beginDownload(id).catch((err) => { throw new TransferError('ERR_STORE', `cannot start ${id}: ${err.message}`, { cause: err }) })
  return new DownloadSession(node, dl, id, opts, { verifier }).run()
}

function storedTree(store: FileStore, id: string): Promise<Blake3Tree | null> {
  return store.tree(id).catch((err) => { throw new TransferError('ERR_STORE', `cannot read the tree of ${id}: ${err.message}`, { cause: err }) })
}

/** Fetches `blake3_tree_v2/<root>` like any file from the same peers; the store checks it against
 * the root and keeps it only if it matches. */
async function fetchTree(node: CjNode, store: FileStore, id: string, opts: DownloadOptions): Promise<Blake3Tree> {
  const treeId = blake3TreeId(parseBlake3Id(id)!)
  const exclude = [...opts.exclude ?? []]
  for (let attempt = 1; ; attempt++) {
    const dl = await store.beginDownload(treeId).catch((err) => { throw new TransferError('ERR_STORE', `cannot start ${treeId}: ${err.message}`, { cause: err }) })
    try {
      await new DownloadSession(node, dl, treeId, { ...opts, exclude, onProgress: undefined }, { blameBlocks: true }).run()
    } catch (err) {
      if (!isTransferError(err, 'ERR_HASH_MISMATCH') || attempt >= TREE_ATTEMPTS) throw err
      exclude.push(...err.blamed ?? [])
      continue
    }
    const tree = await storedTree(store, id)
    if (tree) return tree
    throw new TransferError('ERR_STORE', `the tree of ${id} was fetched but cannot be read back`)
  }
}

/** Blocks of a `blake3/` file are checked against its verified tree; its size must fit the tree. */
function treeVerifier(tree: Blake3Tree): BlockVerifier {
  const { min, max } = tree.sizeBounds
  return { fits: (size) => size >= min && size <= max, check: (i, data) => tree.verifyBlock(i, data) }
}
