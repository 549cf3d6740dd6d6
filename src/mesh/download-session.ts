// Downloading one file by id from every peer that has it.
//
// Design: blocks are 4096 bytes (BLOCK_SIZE), fetched first-missing-first from all peers at once.
// Each peer has its own request window (AIMD on answers and timeouts, RTT-based timeout); an answer
// refills that peer's window at once, so fast peers take more blocks. All outstanding requests live
// in one RequestBook; one sweep timer expires them, releases their blocks to others, wakes resting peers,
// adopts newly known peers, reports progress and gives up on a stall. The size comes from the first
// `eof`; blocks go straight to the store's incoming copy (whose bitmap makes a restart resume), and
// the store checks the whole file's SHA-256 at the end. Without per-block hashes a bad block cannot
// be blamed on anyone, unless one peer sent every block. A `blake3/` download has them: a
// BlockVerifier (its verified tree) checks every block before it is queued for disk, and a block
// that fails is dropped (asked of someone else) and charged to its sender, which the node bans after
// a few. A tree file's download remembers who sent each block, so the blocks its check names are
// charged to their senders.
import type { CjNode } from './node.ts'
import type { MessageOf } from './messages.ts'
import { BLOCK_SIZE, MAX_REQUEST_LENGTH, messageBytes } from './messages.ts'
import { HEADER_BYTES, TAG_BYTES } from './secure/sealed-frame.ts'
import { BlockPlan } from './block-plan.ts'
import { DownloadPeer, MAX_DOWNLOAD_PEERS } from './download-peer.ts'
import { FileRouter } from './file-router.ts'
import { dataBytesFitting } from './file-server.ts'
import { RequestBook } from './request-book.ts'
import type { BlockRequest } from './request-book.ts'
import { TransferError } from './transfer-error.ts'
import type { PeerAnswer, PeerAnswers } from './transfer-error.ts'
import { ProgressMeter } from './progress-meter.ts'
import { MAX_FILE_BYTES } from '../store/file-store.ts'
import type { Download } from '../store/file-store.ts'
import type { DownloadOptions, DownloadResult, TransferStats } from './file-download.ts'
import type { Logger } from '../util/logger.ts'
import type { MetricsSink } from '../metrics/types.ts'
import type { Timer } from '../util/timers.ts'
import type { BlockCheck } from '../store/blake3/tree.ts'

/** Checks blocks before they count: a `blake3/` download's verified tree. */
export interface BlockVerifier {
  /** Whether content of `size` bytes (a peer's eof) can be the content checked. */
  fits(size: number): boolean
  check(index: number, data: Uint8Array): BlockCheck
}

export interface SessionInit {
  verifier?: BlockVerifier
  /** Remember each block's sender, so a whole-file check that names bad blocks charges them (a
   * tree file: small, and its check names its bad 4 KiB blocks). */
  blameBlocks?: boolean
}

export { MAX_DOWNLOAD_PEERS } from './download-peer.ts'
/** How often the sweep runs: well under the smallest timeout, cheap with a few thousand requests. */
const SWEEP_MS = 50
/** Blocks received but not yet on disk (8 MiB), past which no new requests go out: a disk slower
 * than the network must slow the download, not fill memory with the file. */
export const MAX_QUEUED_WRITES = 2048
/** Blocks per write: consecutive blocks go to disk in one writev, up to 1 MiB. */
const MAX_WRITE_RUN = 256
/** Requests in one datagram to a peer of ours (each is answered in its own datagram). */
const MAX_BATCH = 32
/** Bytes of a classic answer besides its base64: id, offset, eof and a cookie echo. */
const CLASSIC_ANSWER_OVERHEAD = 400
/** Requests in one datagram to a classic peer. The Rust node answers all of a datagram in one
 * datagram (the Ruby client one each), so a batch is sized for its answers to fit one datagram of
 * the path: 8 answers of 4096 bytes on loopback (about 45 KB of the 64 KiB), one where datagrams
 * stay at the LCDP size, as a bigger answer would be fragmented on the way. Fewer, bigger datagrams
 * cost both sides less. */
const MAX_CLASSIC_BATCH = 8
/** Data asked of one classic peer and not yet answered: under the 4 MiB receive buffer, so a getter
 * that stalls a moment loses no answers. The request window counts requests, and a classic peer's
 * answers are 4 KiB to 40 KiB; 3 MiB in flight is still twice what 64 MiB/s over a 20 ms RTT needs. */
const MAX_CLASSIC_IN_FLIGHT_BYTES = 3 << 20

export class DownloadSession {
  private log: Logger
  private metrics: MetricsSink
  private peers = new Map<string, DownloadPeer>()
  private requests = new RequestBook(() => this.plan, (now) => this.partialPeers(now))
  /** Cap on blocks per request to a peer of ours (opts.ourRangeBytes); each request is also sized to
   * fit that peer's datagram limit. */
  private ourRangeBlocks: number
  private exclude: Set<string>
  private plan?: BlockPlan
  private size?: number
  private resumed = 0
  private stats: TransferStats = { requests: 0, timeouts: 0, overtaken: 0, duplicates: 0, rejected: 0, cancelled: 0, lacked: 0 }
  /** Slot + 1 of the peer each block came from (0: resumed or not yet), when init.blameBlocks. */
  private senders?: Uint8Array
  private slots: DownloadPeer[] = []
  /** Settles once the store has recorded the size; block writes wait for it. */
  private sized: Promise<unknown> = Promise.resolve()
  private writes = new Set<Promise<void>>()
  /** Blocks accepted and not yet handed to the store, written together on the next turn of the event loop. */
  private queued = new Map<number, Buffer>()
  private flushScheduled = false
  /** Peers whose window an answer freed: refilled once the whole datagram has been read, so that
   * the answers in one datagram are followed by one datagram of requests, not one each. */
  private toPump = new Set<DownloadPeer>()
  /** Blocks accepted and not yet on disk (queued or being written). */
  private unwritten = 0
  private meter: ProgressMeter
  private lastBlockAt: number
  private started: number
  private timer?: Timer
  private nextAdopt = 0
  /** Block a reader asked for before the size was known; handed to the plan once it exists. */
  private focusBlock?: number
  private done = false
  private settle!: { resolve: (r: DownloadResult) => void; reject: (e: unknown) => void }
  private unregister: () => void
  private onAbort = () => this.fail(new TransferError('ERR_ABORTED', 'download aborted', { cause: this.opts.signal?.reason }))

  constructor(private node: CjNode, private dl: Download, private id: string, private opts: DownloadOptions, private init: SessionInit = {}) {
    this.log = (opts.logger ?? node.log).child('get')
    this.metrics = opts.metrics ?? node.metrics
    this.exclude = new Set(opts.exclude ?? [])
    this.ourRangeBlocks = Math.max(1, Math.min(MAX_REQUEST_LENGTH / BLOCK_SIZE, Math.floor((opts.ourRangeBytes ?? MAX_REQUEST_LENGTH) / BLOCK_SIZE)))
    this.started = this.lastBlockAt = node.timers.now()
    this.meter = new ProgressMeter(node.timers, opts.progressIntervalMs ?? 250)
    this.unregister = FileRouter.of(node).register(id, {
      content: (m, from) => this.content(m, from),
      hints: (peers, from) => {
        const asker = this.peers.get(from)
        if (asker && asker.blocks === 0) this.answered(asker, 'lacks')
        for (const a of peers) this.join(a)
      },
      suppliers: () => this.suppliers(),
      focus: (offset) => this.focus(offset),
      holdings: (from, bits, addr) => this.holdings(from, bits, addr),
    })
    if (dl.size !== null) this.adopt(dl.size)
  }

  run(): Promise<DownloadResult> {
    const p = new Promise<DownloadResult>((resolve, reject) => { this.settle = { resolve, reject } })
    this.opts.signal?.addEventListener('abort', this.onAbort, { once: true })
    for (const a of this.opts.peers ?? []) this.join(a)
    this.adoptKnownPeers()
    this.timer = this.node.timers.setInterval(() => this.sweep(), SWEEP_MS)
    this.maybeFinish()
    if (!this.done) for (const p of this.peers.values()) this.pump(p)
    return p
  }

  private join(addr: string): void {
    if (this.done || this.peers.has(addr) || this.exclude.has(addr) || this.node.isSelf(addr)) return
    if (this.peers.size >= MAX_DOWNLOAD_PEERS) return
    const known = this.node.peers.get(addr)
    if (known && this.node.peers.isBanned(known)) return
    // Peers are never removed from a download (a dropped one stays, dropped), so slots stay unique.
    const p = new DownloadPeer(addr, this.peers.size)
    this.peers.set(addr, p)
    this.slots.push(p)
    if (this.timer) this.pump(p)
  }

  private adoptKnownPeers(): void {
    for (const p of this.node.peers.active(10 * 60_000)) this.join(p.addr)
    for (const p of this.node.peers.all()) if (p.origin === 'configured') this.join(p.addr)
  }

  /** Learns the size: the store checks it (cap, agreement with a resumed copy) before any block counts. */
  private adopt(eof: number): boolean {
    if (this.size !== undefined) return eof === this.size
    if (eof > MAX_FILE_BYTES) return false
    if (this.init.verifier && !this.init.verifier.fits(eof)) return false
    if (this.dl.size === null) {
      this.sized = this.dl.setSize(eof).catch((err) => this.fail(new TransferError('ERR_STORE', `cannot size ${this.id}: ${err.message}`, { cause: err })))
    }
    this.size = eof
    const count = Math.ceil(eof / BLOCK_SIZE)
    this.plan = new BlockPlan(count, (i) => this.dl.hasBlock(i))
    if (this.init.blameBlocks) this.senders = new Uint8Array(count)
    this.resumed = this.plan.had
    this.meter.start(eof)
    // Requests sent before the size was known asked for block 0: they now count as requests for it
    // (past the per-block cap they release nothing). They stay outstanding: cancelling them would
    // have us write again to a peer whose first answer, proving its address, is still on its way.
    this.requests.adoptProbes(this.plan)
    if (this.focusBlock !== undefined) this.plan.focus(this.focusBlock)
    if (this.timer) for (const p of this.peers.values()) this.pump(p)
    return true
  }

  /** A partial provider told us what it holds: its requests for blocks it lacks are withdrawn at
   * once (it answered them with hints; waiting for their timeouts would idle its window), and it is
   * asked only for what it holds while the map is fresh. */
  private holdings(from: number, bits: Buffer, addr: string): void {
    const peer = this.peers.get(addr)
    if (this.done || !peer || peer.phase === 'dropped') return
    const now = this.node.timers.now()
    peer.holds = { from, bits, at: now }
    for (const r of this.requests.ofPeer(peer)) {
      let all = true
      for (let k = r.first; k < r.first + r.count && all; k++) all = peer.mayHave(k, now)
      if (all) continue
      this.requests.release(r, false)
      peer.win.cancelled()
      this.stats.lacked++
    }
    this.pumpSoon(peer)
  }

  private partialPeers(now: number): DownloadPeer[] {
    const out: DownloadPeer[] = []
    for (const p of this.peers.values()) if (p.phase !== 'dropped' && p.holdings(now)) out.push(p)
    return out
  }

  /** Gateway hook: the next requests go to the block holding `offset` and onward. */
  private focus(offset: number): void {
    if (this.done || !Number.isSafeInteger(offset) || offset < 0) return
    this.focusBlock = Math.floor(offset / BLOCK_SIZE)
    this.plan?.focus(this.focusBlock)
  }

  private bytesHad(): number {
    if (!this.plan || this.size === undefined) return 0
    const lastShort = this.plan.isHad(this.plan.count - 1) ? this.plan.count * BLOCK_SIZE - this.size : 0
    return this.plan.had * BLOCK_SIZE - lastShort
  }

  private content(m: MessageOf<'Content'>, from: string): void {
    if (this.done || m.eof === undefined || this.exclude.has(from)) return
    let peer = this.peers.get(from)
    if (!peer) { this.join(from); peer = this.peers.get(from); if (!peer) return }
    // The rest of a datagram from a peer its last bad block got banned: not even looked at.
    if (peer.phase === 'dropped' && this.banned(peer)) return
    const first = m.offset / BLOCK_SIZE
    const req = this.requests.take(first, peer)
    if (!this.adopt(m.eof)) { this.drop(peer, 'claims another size'); return }
    const plan = this.plan!
    let good = 0
    let bad = false
    if (Number.isInteger(first)) {
      for (let i = first; i < plan.count && (i - first + 1) * BLOCK_SIZE <= MAX_REQUEST_LENGTH; i++) {
        const start = (i - first) * BLOCK_SIZE
        const want = Math.min(BLOCK_SIZE, m.eof - i * BLOCK_SIZE)
        if (m.data.length < start + want) break
        if (!this.accept(i, m.data.subarray(start, start + want), peer)) { bad = true; this.rejectedFrom(peer, i); break }
        good++
      }
    }
    if (req) {
      this.requests.settle(req)
      const now = this.node.timers.now()
      if (good > 0) {
        // Fewer whole blocks than asked, short of the end: what this peer gives per answer.
        if (good < req.count && first + good < plan.count) peer.answerRun = good
        this.answered(peer, 'supplying')
        this.lastBlockAt = now
        peer.answered(req.retry ? undefined : now - req.sentAt)
        for (const o of peer.overtaken(req.seq)) {
          const lost = this.requests.get(o.key)
          if (lost && lost.seq === o.seq) { this.requests.release(lost, true); peer.win.lost(lost.seq, false); this.stats.overtaken++ }
        }
      } else if (bad) {
        // A bad block is a loss for its sender's window: a liar is asked less.
        peer.win.lost(req.seq, false)
      } else if (peer.short()) {
        this.drop(peer, 'answers without data')
      }
    } else if (good > 0) {
      peer.answeredLate()
    }
    // Endgame: a block just taken may still be asked of another peer (a copy of a slow request).
    // That request is withdrawn now, so its peer's window is free for other blocks at once; an
    // answer already on its way counts as a duplicate.
    for (let i = first; i < first + good; i++) if (this.plan!.requests(i) > 0) this.cancelCopies(i, peer)
    if (!this.maybeFinish()) this.pumpSoon(peer)
  }

  private pumpSoon(peer: DownloadPeer): void {
    if (this.toPump.size === 0) queueMicrotask(() => { for (const p of this.toPump) this.pump(p); this.toPump.clear() })
    this.toPump.add(peer)
  }

  /** Withdraws other suppliers' copies of block `i`, which just came from `from`. */
  private cancelCopies(i: number, from: DownloadPeer): void {
    for (const r of this.requests.withdrawCopies(i, from)) {
      r.peer.win.cancelled()
      this.stats.cancelled++
      this.pumpSoon(r.peer)
    }
  }

  /** Takes a block; false when it fails its check (nothing is kept). */
  private accept(i: number, bytes: Buffer, peer: DownloadPeer): boolean {
    if (this.plan!.isHad(i)) { this.stats.duplicates++; return true }
    if (this.init.verifier && this.init.verifier.check(i, bytes) !== 'ok') return false
    this.plan!.markHad(i)
    if (this.senders) this.senders[i] = peer.slot + 1
    peer.blocks++
    peer.bytes += bytes.length
    this.meter.add(bytes.length)
    this.queued.set(i, bytes)
    this.unwritten++
    if (!this.flushScheduled) { this.flushScheduled = true; this.node.timers.setTimeout(() => this.flushWrites(), 0) }
    return true
  }

  /** A block failed its check against the tree: it costs that one block (released to be asked of
   * anyone), and its sender is charged; once the node bans it, it leaves this download. */
  private rejectedFrom(peer: DownloadPeer, block: number): void {
    this.stats.rejected++
    this.log.warn('block failed its BLAKE3 check', { id: this.id, block, peer: peer.addr })
    this.node.penalise(peer.addr, 'bad_file_block')
    if (this.banned(peer)) this.drop(peer, 'banned for bad blocks')
  }

  private banned(peer: DownloadPeer): boolean {
    const known = this.node.peers.get(peer.addr)
    return known !== undefined && this.node.peers.isBanned(known)
  }

  /** Hands queued blocks to the store in runs of consecutive blocks: the answers to one pump of
   * requests arrive within one turn of the event loop, so a run is usually all of them. */
  private flushWrites(): void {
    this.flushScheduled = false
    if (this.queued.size === 0) return
    const order = [...this.queued.keys()].sort((a, b) => a - b)
    let k = 0
    while (k < order.length) {
      const first = order[k]
      const run: Buffer[] = [this.queued.get(first)!]
      while (k + run.length < order.length && order[k + run.length] === first + run.length && run.length < MAX_WRITE_RUN) run.push(this.queued.get(first + run.length)!)
      k += run.length
      this.writeRun(first, run)
    }
    this.queued.clear()
  }

  private writeRun(first: number, run: Buffer[]): void {
    const w: Promise<void> = this.sized.then(() => this.dl.writeBlocks(first, run)).then(
      () => {
        this.writes.delete(w)
        const before = this.unwritten
        this.unwritten -= run.length
        if (this.maybeFinish()) return
        // Backpressure released: let every peer's window refill.
        if (before >= MAX_QUEUED_WRITES / 2 && this.unwritten < MAX_QUEUED_WRITES / 2) for (const p of this.peers.values()) this.pump(p)
      },
      (err) => { this.writes.delete(w); this.fail(new TransferError('ERR_STORE', `cannot write block ${first}: ${err.message}`, { cause: err })) },
    )
    this.writes.add(w)
  }

  /** Fills one peer's window with the next missing blocks (or, at the end, with duplicates of the
   * oldest outstanding requests to others). */
  private pump(peer: DownloadPeer): void {
    const info = this.node.peers.get(peer.addr)
    // A peer of ours is asked for ranges, but no longer than its answers have shown it gives (a node
    // that does not know we speak the extension answers one block per request).
    if (info?.speaksStreams === true) { this.sendBatch(peer, MAX_BATCH, Math.min(peer.answerRun ?? Infinity, this.ourRangeBlocks, dataBytesFitting(this.node.datagramLimit(info)) / BLOCK_SIZE)); return }
    // A classic peer is asked for as much as one answer datagram of the path carries (the Rust node
    // serves up to 40 KiB, the Ruby client what is asked) until an answer shows it gives less.
    const path = this.node.pathLimit(peer.addr)
    const run = peer.answerRun ?? Math.min(MAX_REQUEST_LENGTH, dataBytesFitting(path)) / BLOCK_SIZE
    const batch = Math.max(1, Math.min(MAX_CLASSIC_BATCH, Math.floor(path / (Math.ceil(run * BLOCK_SIZE / 3) * 4 + CLASSIC_ANSWER_OVERHEAD))))
    const room = () => Math.min(peer.room(), Math.floor(MAX_CLASSIC_IN_FLIGHT_BYTES / (run * BLOCK_SIZE)) - peer.win.inFlight)
    // A short batch only when little is in flight: the answers on their way free a full one, and a
    // short batch sent now would come back as a short answer and keep the exchange fragmented.
    while (room() >= batch || (room() > 0 && peer.win.inFlight < batch)) {
      if (!this.sendBatch(peer, Math.min(batch, room()), run)) return
    }
  }

  /** Sends up to `max` requests of up to `run` blocks each to a peer in one datagram; false if none went. */
  private sendBatch(peer: DownloadPeer, max: number, run: number): boolean {
    if (this.done) return false
    const now = this.node.timers.now()
    if (now < peer.notBefore || this.unwritten >= MAX_QUEUED_WRITES) return false
    const out: BlockRequest[] = []
    // An answer's wire size is worked out (a Content message encoded) only under --max-download.
    const limited = this.node.download.limit !== null
    const sealed = limited && (this.node.sealer?.sealsTo(peer.addr) ?? false)
    while (peer.room() > out.length && out.length < max) {
      const r = this.requests.next(peer, run, now)
      if (!r) break
      // --max-download: the answer is paid for before it is asked; while the bucket is in debt the
      // request waits (the sweep pumps again).
      if (limited && !this.node.download.reserve(answerBytes(this.id, r.first * BLOCK_SIZE, r.count * BLOCK_SIZE, this.size, sealed))) {
        this.requests.release(r, false)
        break
      }
      out.push(r)
    }
    if (out.length === 0) return false
    const msgs = out.map((r) => ({ type: 'PleaseSendContent' as const, id: this.id, offset: r.first * BLOCK_SIZE, length: r.count * BLOCK_SIZE }))
    const sent = this.node.send(peer.addr, msgs, 'file', 'relay')
    if (sent === 0) {
      // Our anti-amplification budget toward a silent address is spent until it answers (or its hello
      // allowance returns after 10 s); the sweep tries again.
      for (const r of out) this.requests.release(r, false)
      peer.notBefore = now + 1000
      return false
    }
    this.stats.requests += out.length
    for (const r of out) { r.seq = peer.win.sent(); r.deadline = now + peer.win.rtoMs; peer.logSent(r.seq, r.key) }
    peer.askedAt ??= now
    return true
  }

  private drop(peer: DownloadPeer, why: string): void {
    if (peer.phase === 'dropped') return
    this.log.debug('peer dropped from download', { id: this.id, peer: peer.addr, why })
    peer.phase = 'dropped'
    this.releaseAll(peer)
  }

  private releaseAll(peer: DownloadPeer): void {
    for (const r of this.requests.ofPeer(peer)) { this.requests.release(r, false); peer.win.cancelled() }
    for (const p of this.peers.values()) if (p !== peer) this.pump(p)
  }

  private sweep(): void {
    if (this.done) return
    const now = this.node.timers.now()
    const touched = new Set<DownloadPeer>()
    for (const r of this.requests.expired(now)) {
      this.stats.timeouts++
      touched.add(r.peer)
      if (r.peer.blocks === 0) {
        // Heard from since we asked (a cookie, a ReturnedMessage, a hint) but no block: it lacks the id.
        const heard = (this.node.peers.get(r.peer.addr)?.lastHeard ?? 0) >= (r.peer.askedAt ?? Infinity)
        this.answered(r.peer, heard ? 'lacks' : 'silent')
      }
      if (r.peer.timedOut(r.seq, now)) this.releaseAll(r.peer)
    }
    if (now >= this.nextAdopt) { this.nextAdopt = now + 1000; this.adoptKnownPeers() }
    for (const p of this.peers.values()) { p.wake(now); if (p.win.inFlight === 0 || touched.has(p)) this.pump(p) }
    const progress = this.meter.tick(this.bytesHad(), this.peersActive())
    if (progress) this.opts.onProgress?.(progress)
    const stall = this.opts.stallTimeoutMs ?? 60_000
    if (now - this.lastBlockAt > stall) {
      const peers: PeerAnswers = { silent: [], lacks: [], supplying: [] }
      for (const p of this.peers.values()) if (p.answer) peers[p.answer].push(p.addr)
      const why = this.peers.size === 0 ? 'no peers known'
        : peers.supplying.length === 0 && peers.lacks.length === 0 ? `no answer from any of ${this.peers.size} peer(s)`
          : peers.supplying.length === 0 ? `${peers.lacks.length} peer(s) answered without having it${peers.silent.length ? `, ${peers.silent.length} never answered` : ''}`
            : `no block for ${Math.round(stall / 1000)} s from ${this.peers.size} peer(s)`
      this.fail(new TransferError('ERR_STALLED', `download of ${this.id} stalled: ${why}`, { peers }))
    }
  }

  /** Records what a peer answered; tells the caller once per change. A supplier stays one. */
  private answered(peer: DownloadPeer, answer: PeerAnswer): void {
    if (peer.answer === answer || peer.answer === 'supplying') return
    peer.answer = answer
    this.opts.onPeerAnswer?.(peer.addr, answer)
  }

  private peersActive(): number { let n = 0; for (const p of this.peers.values()) if (p.phase === 'supplier') n++; return n }

  private suppliers(): string[] {
    return [...this.peers.values()].filter((p) => p.blocks > 0).sort((a, b) => b.blocks - a.blocks).map((p) => p.addr)
  }

  private maybeFinish(): boolean {
    if (this.done) return true
    if (!this.plan?.done || this.unwritten > 0) return false
    this.stop()
    void this.complete()
    return true
  }

  private async complete(): Promise<void> {
    const suppliers = [...this.peers.values()].filter((p) => p.blocks > 0)
    let res
    try {
      res = await this.dl.finish()
    } catch (err) {
      return this.reject(new TransferError('ERR_STORE', `cannot finish ${this.id}: ${(err as Error).message}`, { cause: err }))
    }
    if (!res.ok) {
      // One peer sent every block of this copy: the bad bytes are certainly its. Otherwise the
      // senders of the blocks the check named, when we kept them.
      const blamed = new Set<string>()
      if (suppliers.length === 1 && this.resumed === 0) blamed.add(suppliers[0].addr)
      for (const b of res.badBlocks ?? []) { const s = this.senders?.[b]; if (s) blamed.add(this.slots[s - 1].addr) }
      for (const addr of blamed) this.node.penalise(addr, 'bad_file_block')
      const from = suppliers.map((p) => p.addr).join(', ') || 'a resumed copy'
      return this.reject(new TransferError('ERR_HASH_MISMATCH', `${this.id}: the downloaded bytes do not hash to the id (${res.reason}); copy discarded; blocks came from ${from}`, { blamed: [...blamed] }))
    }
    const router = FileRouter.of(this.node)
    for (const p of suppliers) router.holders.add(this.id, p.addr)
    this.metrics.fileTransfer('completed')
    const fetched = suppliers.reduce((n, p) => n + p.bytes, 0)
    this.opts.onProgress?.(this.meter.final(this.size!, this.peersActive()))
    this.settle.resolve({
      id: this.id, size: this.size!, fetchedBytes: fetched, fetchedBlocks: suppliers.reduce((n, p) => n + p.blocks, 0),
      resumedBlocks: this.resumed, durationMs: this.node.timers.now() - this.started, suppliers: this.suppliers(), stats: this.stats,
    })
  }

  private fail(err: TransferError): void {
    if (this.done) return
    this.stop()
    // Blocks already queued for disk finish first, so the resume bitmap matches the data file.
    this.flushWrites()
    void Promise.allSettled([...this.writes]).then(() => this.dl.close()).finally(() => this.reject(err))
  }

  private reject(err: TransferError): void {
    this.metrics.fileTransfer('failed')
    this.settle.reject(err)
  }

  /** Idempotent: cancels every request and timer and lets go of the id. */
  private stop(): void {
    if (this.done) return
    this.done = true
    this.node.timers.clear(this.timer)
    this.timer = undefined
    this.opts.signal?.removeEventListener('abort', this.onAbort)
    this.requests.clear()
    this.unregister()
  }
}

/** A cookie echo and the brackets that lead an answer datagram. */
const ANSWER_PREFIX_BYTES = 48
const NO_DATA = Buffer.alloc(0)

/** Wire bytes of the answer to a request for `len` bytes at `offset`: its Content with the data as
 * base64 (or raw, after the JSON, in a sealed frame), behind the cookie echo. */
export function answerBytes(id: string, offset: number, len: number, eof: number | undefined, sealed: boolean): number {
  const head = messageBytes({ type: 'Content', id, offset, data: NO_DATA, eof }) + ANSWER_PREFIX_BYTES
  return sealed ? head + len + HEADER_BYTES + TAG_BYTES + 5 : head + 4 * Math.ceil(len / 3)
}
