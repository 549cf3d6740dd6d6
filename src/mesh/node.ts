// A cjp2p node: one transport, the peer table, cookies both ways, RTT probes, peer exchange, and
// a dispatch table to which file sharing and stream swarms attach their message handlers.
//
// Anti-amplification: until an address has echoed our cookie, everything we send it (replies,
// requests and hellos alike, every byte) stays within twice the bytes it sent us. Only an address
// we wrote to before it ever wrote to us gets more: a small hello allowance per backoff step, so
// that we can start a conversation at all. This is the LCDP draft's rule; the cookie round trip
// completes in one exchange because our first reply already carries our cookie request.
import { createHmac, randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { lookup } from 'node:dns/promises'
import type { DecodeResult, Json, Message, MessageOf, MessageType, NatKind } from './messages.ts'
import { GRANT_BY_TAG, MAX_DATAGRAM_BYTES, MAX_PEERS_PER_LIST, OUR_EXTENSION, PUNCH_MET, STREAM_EXTENSION, contentHeadJson, decodeDatagram, decodeOpened, encodeBinaryTail, encodeMessage, encodedSize, isAddress, messageBytes, messageJson } from './messages.ts'
import type { Transport } from './transport.ts'
import { formatAddress, parseAddress } from './transport.ts'
import type { Peer } from './peers.ts'
import { PeerTable } from './peers.ts'
import { SelfAddresses } from './self-addresses.ts'
import { isSealed } from './secure/sealed-frame.ts'
import { UploadPacer } from './bandwidth/upload-pacer.ts'
import { UplinkEstimate } from './bandwidth/uplink-estimate.ts'
import { DownloadPacer } from './bandwidth/download-pacer.ts'
import type { Timer, Timers } from '../util/timers.ts'
import { realTimers } from '../util/timers.ts'
import type { Logger } from '../util/logger.ts'
import { silentLogger } from '../util/logger.ts'
import type { MetricsSink, PenaltyReason, TrafficKind, TrafficRole } from '../metrics/types.ts'
import { noMetrics } from '../metrics/types.ts'

/** Bytes per backoff step to an address we wrote to first and that has not echoed our cookie:
 * a hello (cookie request, peers request, RTT probe, IAlsoSpeak: about 200 bytes) plus the first
 * request of a download (about 160), so `get` need not wait a step between the two. */
export const HELLO_ALLOWANCE_BYTES = 384
/** Hearsay addresses that never answer stop getting hellos after this: otherwise one forged Peers
 * list would make us send to its victims every 30 s forever (reflection without a bound). */
export const HELLO_GIVE_UP_MS = 120_000
/** The longest wait between two hellos to an address that has not answered. */
const HELLO_MAX_GAP_MS = 10_000
/** Stream sources remembered (streamSources): one per stream watched, and a few more for a source
 * that moved its address. */
const MAX_STREAM_SOURCES = 16
/** A measured uplink is paced this far under its rate: at the rate itself the link's queue, full
 * when it was measured, would never drain. */
const MEASURED_PACE = 0.9
/** A peer over its datagram rate is charged for it at most this often. */
const FLOOD_CHARGE_INTERVAL_MS = 1000
/** Replies to peers not known to be ours stay under the LCDP datagram size; ours may be larger on loopback. */
export const SMALL_DATAGRAM_BYTES = 5888
/** Loopback carries datagrams up to the UDP maximum without fragmenting: our peers on the same
 * host exchange 40 KiB per datagram whatever --max-datagram says for the network. */
export const LOOPBACK_DATAGRAM_BYTES = MAX_DATAGRAM_BYTES
/** Unverified senders get at most this many addresses in a list (the reference nodes give 1 to 3). */
export const UNVERIFIED_LIST_MAX = 2
/** Cookies remembered per host: recomputing an HMAC for every datagram costs more than the lookup. */
const MAX_COOKIE_CACHE = 4096
/** Side sockets a node keeps at most (each one reached one peer behind a symmetric NAT's mapping:
 * src/mesh/nat/birthday-punch.ts). */
export const MAX_SIDE_SOCKETS = 8
/** A handler that has not answered in this time answers nothing: a slow disk must not hold the socket. */
const HANDLER_TIMEOUT_MS = 2000

/** A handed-over datagram skipped nothing (its sender built every message). */
const NOTHING_SKIPPED = { bad: 0, unknown: 0 } as const

/** Messages that hand out addresses of other peers (in `peers`). */
const LISTS: ReadonlySet<MessageType> = new Set<MessageType>(['Peers', 'MaybeTheyHaveSome', 'AskThemInstead', 'TheyHave'])

export interface Ctx {
  from: string
  peer: Peer
  verified: boolean
  /** Queue a reply; all replies to one datagram leave together. */
  reply(m: Message, kind?: TrafficKind, role?: TrafficRole): void
  /** Bytes the replies queued so far leave for more (encoded, with a separating comma) within the
   * anti-amplification budget: Infinity to a verified peer. Lets a handler shrink its answer to fit. */
  room(): number
  /** The datagram asked for our cookie echo (it leads every datagram from a peer that has not
   * proven us yet). */
  readonly asksEcho: boolean
  /** The answer carries our echo of the sender's cookie even when nothing else is queued: it asked
   * for it and waits for it to prove us. */
  echo(): void
}
/** What src/mesh/secure/ lends the node (CjNode.sealer). */
export interface Sealer {
  seal(to: string, buf: Buffer): Buffer
  sealsTo(to: string): boolean
  open(from: string, buf: Buffer): Buffer | 'bad_seal' | 'unknown_session'
  /** Of a plain datagram's messages, those taken from `from` (all of them, but from a peer that seals). */
  plainKept(from: string, messages: Message[]): Message[]
  /** `from` sealed to us under a session we do not have (its bytes already counted toward our answer). */
  lost(from: string): void
}
/** `cut`: messages of a plain datagram a sealing peer may not send us were left out. */
type WireResult = (DecodeResult & { cut?: true }) | { ok: false; reason: 'bad_seal' | 'unknown_session' | 'plain_from_sealed' }
type Handler<T extends MessageType> = (m: MessageOf<T>, ctx: Ctx) => void | Promise<void>

export interface NodeComponents { transport: Transport; timers?: Timers; logger?: Logger; metrics?: MetricsSink }
export interface NodeInit {
  bootstrap?: string[]
  peersFile?: string
  probeIntervalMs?: number
  secret?: Buffer
  maxPeers?: number
  /** Largest datagram we send to peers known to speak our extension (loopback can carry 64 KiB). */
  ourDatagramBytes?: number
  /** --max-upload and --max-download, bytes a second (src/mesh/bandwidth/). */
  maxUploadBytesPerSecond?: number
  maxDownloadBytesPerSecond?: number
}

interface Outgoing { m: Message; kind: TrafficKind; role: TrafficRole }
/** A message with its JSON text and that text's length in bytes (not UTF-16 units: a peer's cookie
 * may hold multi-byte characters). */
interface Encoded<M extends Message = Message> { m: M; text: string; bytes: number }
/** Our cookie for one host, our request for it, and the prefix of a datagram that carries only
 * that request (shared by every address at that host). */
interface OurCookie { readonly cookie: string; readonly ask: Encoded; readonly askOnly: Prefix }
/** Kept on the peer's entry (Peer.cookieText), not in a WeakMap beside the table: a weak entry
 * per peer of every node is an ephemeron that each full collection must trace on its own, and with
 * thousands of nodes in one process (each with hundreds of peers) they showed in its pauses. */
export interface CookieText {
  cookie: string; ask: Encoded; askOnly: Prefix; echo?: Encoded<MessageOf<'AlwaysReturned'>>
  /** The datagram prefixes that hold the echo: alone, and with our request. Two fields and arrays
   * of their exact length, not a list of four filled by push, whose three arrays of 17 slots each
   * were a third of what a peer we write to costs (some 450 of 1,100 bytes, and a full table holds
   * 2,000); the other two prefixes are shared (NO_PREFIX, OurCookie.askOnly). */
  echoOnly?: Prefix
  echoAsk?: Prefix
}
/** The cookie messages that lead a datagram, as text and as messages, and their bytes with the
 * brackets of the array and each message's comma. Shared: never changed by a caller. */
interface Prefix { readonly json: readonly string[]; readonly messages: readonly Message[]; readonly bytes: number }
/** The prefix of a datagram to a verified peer whose cookie we do not echo: nothing. */
const NO_PREFIX: Prefix = { json: [], messages: [], bytes: 1 }

function encoded<M extends Message>(m: M): Encoded<M> {
  const text = JSON.stringify(encodeMessage(m))
  return { m, text, bytes: Buffer.byteLength(text) }
}

export class CjNode extends EventEmitter {
  readonly transport: Transport
  readonly peers: PeerTable
  /** Every address that is us: never added, asked, hinted or greeted. */
  readonly selves: SelfAddresses
  readonly timers: Timers
  readonly log: Logger
  readonly metrics: MetricsSink
  /** Every datagram we send leaves through this (--max-upload). */
  readonly upload: UploadPacer
  /** What our uplink carries, measured from how fast our datagrams drain (null: the transport
   * cannot say). A viewer without --max-upload on a weak link learns from it to be a leaf. */
  readonly uplink: UplinkEstimate | null
  /** Every datagram that arrives is counted here, and file requests reserve their answers (--max-download). */
  readonly download: DownloadPacer
  private handlers = new Map<MessageType, Handler<MessageType>[]>()
  /** Some peer said it is behind a symmetric NAT (IAmBehind): only then are address lists filtered. */
  private symmetricHeard = false
  private secret: Buffer
  /** Our cookie by host (bounded: addresses come from strangers). By address it sits on the peer's
   * entry (Peer.cookieText). */
  private hostCookies = new Map<string, OurCookie>()
  /** Extra sockets, each the only way to one peer (a birthday punch found it through its own NAT
   * mapping): what we send that peer leaves through it; what arrives on it is handled as any datagram. */
  private sides = new Map<string, Transport>()
  private intervals: Timer[] = []
  private closed = false
  private init: NodeInit
  /** True while the peer at `addr` may be a known peer that moved (its key proof is on its way):
   * set by src/mesh/nat/peer-keys.ts; without it, never. */
  keyProofPending: (addr: string) => boolean = () => false
  /** Proven peers behind the same public host as `addr`, with their LAN addresses: set by
   * src/mesh/nat/lan-mates.ts; without it, none. */
  lanMates: (addr: string) => Array<{ at: string; local: string }> = () => []
  /** Peers behind cone NATs we introduced `addr` (behind a symmetric one) to for a birthday punch
   * that has had its time: set by src/mesh/nat/introductions.ts; without it, none. */
  punchedWith: (addr: string) => readonly string[] = () => []
  /** Seals datagrams to, and opens them from, peers we share an encrypted session with
   * (src/mesh/secure/secure-sessions.ts); without it, every datagram is plain JSON. */
  sealer: Sealer | null = null
  /** Addresses that sent us verified chunks as their stream's source (hop 0), at most
   * MAX_STREAM_SOURCES, newest last: besides the peers the user named, the only ones that may start
   * a birthday punch on us (src/mesh/nat/introductions.ts). */
  readonly streamSources = new Set<string>()
  /** Whether the uplink's measured rate becomes the pacer's limit: only on a viewer's node (its
   * swarm says so). A stream's source keeps its own budget (--source-capacity, the source budget),
   * and a figure taken while its link was full for a moment would cap it for good; a node that only
   * shares files has no children to give away. A node that is any stream's source never paces. */
  uplinkPacing: 'unset' | 'viewer' | 'source' = 'unset'
  /** Our NAT as peers' reports show it (written by src/mesh/nat/nat-traversal.ts). */
  nat: { kind: NatKind | 'unknown'; publicAddress: string | null } = { kind: 'unknown', publicAddress: null }
  readonly counters = { datagramsIn: 0, datagramsOut: 0, bytesIn: 0, bytesOut: 0, dropped: {} as Record<string, number>, ampMaxRatio: 0, ampHelloBytes: 0 }

  constructor(c: NodeComponents, init: NodeInit = {}) {
    super()
    this.transport = c.transport
    this.timers = c.timers ?? realTimers
    this.log = c.logger ?? silentLogger
    this.metrics = c.metrics ?? noMetrics
    this.init = init
    this.upload = new UploadPacer({ timers: this.timers }, { bytesPerSecond: init.maxUploadBytesPerSecond })
    const t = this.transport
    this.uplink = t.uplinkCounters ? new UplinkEstimate({ clock: this.timers, read: () => t.uplinkCounters!() }) : null
    this.download = new DownloadPacer({ clock: this.timers }, { bytesPerSecond: init.maxDownloadBytesPerSecond })
    this.secret = init.secret ?? randomBytes(32)
    this.peers = new PeerTable({ clock: this.timers, max: init.maxPeers })
    this.selves = new SelfAddresses(this.transport.address)
    this.transport.onDatagram((buf, from) => this.receive(buf.length, from, buf, undefined))
    this.transport.onDecoded?.((messages, bytes, from) => this.receive(bytes, from, undefined, messages))
    this.handle('PleaseSendPeers', (_m, ctx) => {
      const n = ctx.verified ? MAX_PEERS_PER_LIST : UNVERIFIED_LIST_MAX
      ctx.reply({ type: 'Peers', peers: this.peers.shareable(ctx.from, n) })
    })
    this.handle('Peers', (m) => { for (const a of m.peers) if (!this.isSelf(a)) this.peers.touch(a, 'told') })
    this.handle('PleaseReturnThisMessage', (m, ctx) => ctx.reply({ type: 'ReturnedMessage', value: m.value }))
    this.handle('ReturnedMessage', (m, ctx) => {
      // Our probes carry our send time as a plain number (the shape the Rust node also uses).
      if (typeof m.value === 'number') this.peers.recordRtt(ctx.peer, this.timers.now() - m.value)
    })
    this.handle('IAmBehind', (m, ctx) => {
      if (!ctx.verified) return
      ctx.peer.nat = m.nat
      if (m.nat === 'symmetric') this.symmetricHeard = true
    })
    this.handle('MyPublicKey', (m, ctx) => { if (!ctx.peer.keyProven) ctx.peer.publicKey = m.ed25519h ?? Buffer.from(m.ed25519 ?? '', 'base64').toString('hex') })
  }

  get address(): string { return this.transport.address }

  /** True for every address that reaches this node (see SelfAddresses). */
  isSelf(addr: string): boolean { return this.selves.has(addr) }

  /** `addr` sent us a verified chunk as its stream's source (chunk-receiver.ts). */
  noteStreamSource(addr: string): void {
    this.streamSources.delete(addr)
    if (this.streamSources.size >= MAX_STREAM_SOURCES) this.streamSources.delete(this.streamSources.values().next().value as string)
    this.streamSources.add(addr)
  }

  /** Registers a handler for one message type (several may listen). */
  handle<T extends MessageType>(type: T, fn: Handler<T>): this {
    const list = this.handlers.get(type) ?? []
    list.push(fn as unknown as Handler<MessageType>)
    this.handlers.set(type, list)
    return this
  }

  async start(): Promise<void> {
    if (this.init.peersFile) await this.peers.load(this.init.peersFile, isAddress)
    for (const spec of this.init.bootstrap ?? []) {
      const addr = await resolvePeer(spec)
      this.peers.touch(addr, 'configured')
    }
    this.probe()
    const every = this.init.probeIntervalMs ?? 10_000
    this.intervals.push(this.timers.setInterval(() => this.probe(), every))
    if (this.init.peersFile) {
      const file = this.init.peersFile
      this.intervals.push(this.timers.setInterval(() => { this.peers.save(file).catch((e) => this.log.warn('could not save peers', { err: e })) }, 30_000))
    }
  }

  /** Says hello to configured peers and a few others, asks for peers, measures RTT. An unverified
   * address that wrote to us first gets no unprompted hello: it may be a spoofed victim, and we
   * only ever answer it (within 2x of what it sent). */
  probe(): void {
    const now = this.timers.now()
    const targets = this.peers.best(PROBED_PEERS, probeFirst,
      (p) => !this.peers.isBanned(p) && !this.isSelf(p.addr) && (p.origin === 'configured' || p.verified ||
        ((p.spokeFirst === true || p.lastHeard === 0) && now - p.lastContacted > 30_000 && now - Math.max(p.firstSeen, p.lastHeard) < HELLO_GIVE_UP_MS)))
    for (const p of targets) {
      const hello: Message[] = [{ type: 'PleaseSendPeers' }, { type: 'PleaseReturnThisMessage', value: now }]
      if (p.maxDatagramBytes === undefined) hello.push(this.capabilities(p.addr))
      this.send(p.addr, hello)
    }
    this.metrics.peersGauge(this.peers.size, this.peers.countActive(60_000))
  }

  /** Our cookie for an address: derived from a node secret and the source IP (not the port, so a
   * NAT rebinding keeps it), as the current reference node does. */
  cookieFor(addr: string): string {
    const p = this.peers.get(addr)
    return p !== undefined ? this.cookieTexts(addr, p).cookie : this.ourCookie(addr).cookie
  }

  /** Our cookie for an address with the message that asks for it back, by host, which is all the
   * cookie depends on: a host seen at many ports (peers behind one NAT, or every node of the
   * simulator at 127.0.0.1) costs one HMAC and one encoding of the request, not one per port.
   * Per address it is kept on the peer's entry (cookieTexts): an HMAC, and even parsing the
   * address, per datagram showed in profiles, and a second map by address beside the table held
   * up to 4,096 entries in every node. */
  private ourCookie(addr: string): OurCookie {
    const host = parseAddress(addr)?.host ?? addr
    let c = this.hostCookies.get(host)
    if (c === undefined) {
      const cookie = createHmac('sha256', this.secret).update(host).digest('hex').slice(0, 8)
      const ask = encoded({ type: 'PleaseAlwaysReturnThisMessage', value: { cookie } })
      c = { cookie, ask, askOnly: { json: [ask.text], messages: [ask.m], bytes: 1 + ask.bytes + 1 } }
      if (this.hostCookies.size >= MAX_COOKIE_CACHE) this.hostCookies.clear()
      this.hostCookies.set(host, c)
    }
    return c
  }

  /** Our IAlsoSpeak to one address: the extensions we speak and the largest datagram we accept from it. */
  capabilities(to?: string): Message {
    return { type: 'IAlsoSpeak', extensions: [OUR_EXTENSION, GRANT_BY_TAG, PUNCH_MET], maxDatagramBytes: this.pathLimit(to) }
  }

  /** The largest datagram the path to `addr` carries in our judgement (--max-datagram, or the UDP
   * maximum on loopback), whoever the peer is. */
  pathLimit(addr: string | undefined): number {
    const n = this.init.ourDatagramBytes ?? SMALL_DATAGRAM_BYTES
    return addr !== undefined && isLoopback(addr) ? Math.max(n, LOOPBACK_DATAGRAM_BYTES) : n
  }

  /** The largest datagram we send a peer: more than the LCDP size only to a verified peer of ours
   * that said it takes more (IAlsoSpeak). */
  datagramLimit(peer: Peer): number {
    const ours = this.pathLimit(peer.addr)
    return peer.speaksStreams && peer.verified ? Math.min(ours, peer.maxDatagramBytes ?? ours) : SMALL_DATAGRAM_BYTES
  }

  /** Sends messages to one address, wrapped in the cookie echo/request, split into datagrams of a
   * size the peer can take, within the anti-amplification budget. Returns the bytes sent. */
  send(to: string, messages: Message[], kind: TrafficKind = 'control', role: TrafficRole = 'relay'): number {
    return this.sendAll(to, messages.map((m) => ({ m, kind, role })), false, true)
  }

  /** As send, for stream data that can wait behind our live pushes under an upload limit (a
   * catch-up, a repair pushed down): it leaves after them, as our answers to pulls do. */
  sendBehind(to: string, messages: Message[], role: TrafficRole): number {
    return this.sendAll(to, messages.map((m) => ({ m, kind: 'stream', role })), false, false)
  }

  /** Messages in answer to a datagram of `to` that no handler took (SecureSessions.lost): as a
   * handler's replies, within 2x of what it sent while it is unproven. */
  replyTo(to: string, messages: Message[]): number {
    return this.sendAll(to, messages.map((m) => ({ m, kind: 'control', role: 'relay' })), true, false)
  }

  /** The cookie messages that lead every datagram to a peer: the echo of theirs (dropped when it
   * would not fit the budget: the request for ours is what lets them prove themselves) and ours. */
  private prefixFor(to: string, peer: Peer, budget: number): Prefix {
    const c = this.cookieText(to, peer)
    // The brackets of the array, then each message and its comma.
    const asking = !peer.verified
    const bytes = 1 + (asking ? c.ask.bytes + 1 : 0)
    const echoing = c.echo !== undefined && bytes + c.echo.bytes + 1 <= budget
    // Made once per cookie pair: a prefix leads nearly every datagram.
    if (!echoing) return asking ? c.askOnly : NO_PREFIX
    const echo = c.echo!
    const have = asking ? c.echoAsk : c.echoOnly
    if (have !== undefined) return have
    const made: Prefix = asking
      ? { json: [echo.text, c.ask.text], messages: [echo.m, c.ask.m], bytes: bytes + echo.bytes + 1 }
      : { json: [echo.text], messages: [echo.m], bytes: bytes + echo.bytes + 1 }
    if (asking) c.echoAsk = made
    else c.echoOnly = made
    return made
  }

  /** The two cookie messages to a peer and their encodings, made again only when a cookie changes:
   * they lead nearly every datagram, and encoding them each time showed in profiles. */
  private cookieText(to: string, peer: Peer): CookieText {
    const c = this.cookieTexts(to, peer)
    const echo = peer.theirCookie === undefined ? undefined
      : c.echo === undefined || c.echo.m.value !== peer.theirCookie ? encoded({ type: 'AlwaysReturned', value: peer.theirCookie }) : c.echo
    if (echo !== c.echo) { c.echo = echo; c.echoOnly = undefined; c.echoAsk = undefined }
    return c
  }

  /** Our cookie and our request for it, kept on the entry of the peer at `to`: the cookie is a
   * function of the address (and our constant secret), and an entry's address never changes. */
  private cookieTexts(to: string, peer: Peer): CookieText {
    let c = peer.cookieText
    if (c === undefined) {
      const ours = this.ourCookie(to)
      c = { cookie: ours.cookie, ask: ours.ask, askOnly: ours.askOnly, echo: undefined, echoOnly: undefined, echoAsk: undefined }
      peer.cookieText = c
    }
    return c
  }

  /** What the 2x rule still lets us send an unverified peer (hello allowance not included). */
  private twiceLeft(peer: Peer): number {
    return Math.max(0, 2 * peer.unverifiedRecv - (peer.unverifiedSent - (peer.unverifiedHello ?? 0)))
  }

  /** The hello allowance for a datagram we start (not a reply): only to an address we wrote to
   * first, refilled once per backoff step (1 s, 2 s, 4 s ... 10 s, so a lost first hello on a lossy
   * path costs a second), and for hearsay addresses never after HELLO_GIVE_UP_MS. */
  private allowanceFor(peer: Peer, now: number): number {
    if (!peer.spokeFirst) return 0
    // The wait before the (k+1)-th refill is 2^(k-1) s: 1 s after the first. Counted from 2^k, the
    // first lost hello cost 2 s, and a stripe whose hello to a new parent was lost went without
    // that parent for 2 s while its joins asked again and again into a spent allowance.
    const gap = Math.min(HELLO_MAX_GAP_MS, 1000 * 2 ** Math.max(0, (peer.hellos ?? 0) - 1))
    const fresh = peer.origin === 'configured' || now - Math.max(peer.firstSeen, peer.lastHeard) < HELLO_GIVE_UP_MS
    if (fresh && (peer.allowanceAt === undefined || now - peer.allowanceAt >= gap)) {
      peer.allowanceLeft = HELLO_ALLOWANCE_BYTES
      peer.allowanceAt = now
      peer.hellos = (peer.hellos ?? 0) + 1
    }
    return peer.allowanceLeft ?? 0
  }

  /** `ahead`: under an upload limit it leaves ahead of the rest of its lane (UploadPacer.send):
   * what we start, but for stream data that can wait (sendBehind). */
  private sendAll(to: string, out: Outgoing[], isReply: boolean, ahead: boolean): number {
    if (this.closed || this.isSelf(to)) return 0
    const peer = this.peers.touch(to, 'heard')
    if (this.peers.isBanned(peer)) return 0
    const now = this.timers.now()
    if (!isReply && !peer.verified && peer.lastHeard === 0 && peer.unverifiedRecv === 0) peer.spokeFirst = true
    // File answers under --max-upload travel one to a datagram (UploadPacer.fileDatagramBytes).
    const maxBytes = Math.min(this.datagramLimit(peer), anyFile(out) ? this.upload.fileDatagramBytes() : Infinity)
    let budget = Infinity
    let twice = Infinity
    let allowance = 0
    if (!peer.verified) {
      twice = this.twiceLeft(peer)
      allowance = isReply ? 0 : this.allowanceFor(peer, now)
      budget = twice + allowance
    }
    const prefix = this.prefixFor(to, peer, budget)
    const decoded = this.transport.sendDecoded !== undefined
    // Sealed, a Content travels as its head and raw bytes (messages.ts BINARY_TAIL): its base64
    // text would only be built to be thrown away, so it is measured, not encoded (as handed over).
    const sealsTo = !decoded && this.sealer !== null && this.sealer.sealsTo(to)
    let sent = 0
    let requests = 0
    // The texts of the messages queued for the next datagram (only when bytes are sent).
    let parts: string[] | null = decoded ? null : []
    let partBytes = prefix.bytes
    let kinds: Outgoing[] = []
    for (const o of out) {
      if (LISTS.has(o.m.type)) o.m = this.withoutUnreachable(o.m)
      // Handed over decoded, a message is only measured: its text is never needed.
      let s = ''
      let len: number
      if (decoded || (sealsTo && o.m.type === 'Content')) len = messageBytes(o.m)
      else ({ json: s, bytes: len } = messageJson(o.m))
      if (partBytes + len + 1 > maxBytes && kinds.length > 0) {
        sent += this.datagram(to, prefix, kinds, parts, partBytes, sealsTo, ahead)
        kinds = []; parts = decoded ? null : []; partBytes = prefix.bytes
      }
      // Anti-amplification: trailing messages that would exceed the budget are not sent at all.
      if (sent + partBytes + len + 1 > budget) break
      parts?.push(s); kinds.push(o); partBytes += len + 1
      // Every message queued leaves in a datagram (the one above, or the last one below).
      if (o.m.type.startsWith('Please') && o.m.type !== 'PleaseAlwaysReturnThisMessage') requests++
    }
    // When nothing fits the budget, the cookie exchange alone still goes out: without it an
    // unverified peer whose first request earns a big answer would never learn our cookie.
    if (kinds.length > 0 || (sent === 0 && prefix.json.length > 0 && prefix.bytes <= budget)) {
      sent += this.datagram(to, prefix, kinds, parts, partBytes, sealsTo, ahead)
    }
    if (!peer.verified) {
      const fromAllowance = Math.min(allowance, Math.max(0, sent - twice))
      peer.allowanceLeft = (peer.allowanceLeft ?? 0) - fromAllowance
      peer.unverifiedSent += sent
      peer.unverifiedHello = (peer.unverifiedHello ?? 0) + fromAllowance
      this.counters.ampHelloBytes += fromAllowance
      // Every byte counts: to an address that wrote to us first, all we sent; to one we wrote to
      // first, all but the allowance, which is counted apart (ampHelloBytes).
      if (peer.unverifiedRecv > 0) {
        this.counters.ampMaxRatio = Math.max(this.counters.ampMaxRatio, (peer.unverifiedSent - peer.unverifiedHello) / peer.unverifiedRecv)
      }
    }
    if (sent > 0 && !isReply) {
      peer.lastContacted = now
      // A datagram we start to an unproven address may die in its NAT: NAT traversal listens here
      // to have someone we both talk to introduce us (src/mesh/nat/introductions.ts).
      if (!peer.verified) this.emit('greeting', to)
    }
    if (requests > 0) this.peers.solicit(peer, requests)
    return sent
  }

  /** One datagram of `kinds` behind `prefix` (of `bytes` encoded; `parts`, their texts, when bytes
   * are sent) through the upload pacer. Returns its size. A method, not a closure made on every
   * send: a relay sends one or two datagrams per call, thousands of times a second. */
  private datagram(to: string, prefix: Prefix, kinds: Outgoing[], parts: string[] | null, bytes: number, sealsTo: boolean, ahead: boolean): number {
    let datagram: Message[] | Buffer
    if (parts === null) {
      // Of its exact length: it stays in flight for its link's delay, and a copy grown by push
      // carried 17 or more slots for its two or three messages. `bytes` counts the brackets and
      // commas: it is the encoded datagram's length.
      const pm = prefix.messages
      const messages = new Array<Message>(pm.length + kinds.length)
      for (let i = 0; i < pm.length; i++) messages[i] = pm[i]
      for (let i = 0; i < kinds.length; i++) messages[pm.length + i] = kinds[i].m
      datagram = messages
    } else {
      // A handshake travels plain: the peer may have lost the session it would be sealed with.
      const sealing = sealsTo && !kinds.some((o) => o.m.type === 'LetUsEncrypt')
      // Sealed, chunks travel as bytes after the JSON, not as base64 in it (messages.ts BINARY_TAIL).
      const plain = sealing && kinds.some((o) => o.m.type === 'Content')
        ? encodeBinaryTail([...prefix.json, ...kinds.map((o, i) => (o.m.type === 'Content' ? contentHeadJson(o.m) : parts[i]))],
          kinds.flatMap((o) => (o.m.type === 'Content' ? [o.m.data] : [])))
        : Buffer.from('[' + [...prefix.json, ...kinds.map((o, i) => parts[i] || messageJson(o.m).json)].join(',') + ']')
      datagram = sealing ? this.sealer!.seal(to, plain) : plain
      bytes = datagram.length
    }
    let data: Outgoing | undefined
    for (const o of kinds) if (o.kind !== 'control') { data = o; break }
    // Counted as it leaves the socket: a datagram the upload limit drops never counts as sent.
    // Without a limit (or with room) it leaves now, with no closure to wait in the queue.
    const lane = data?.kind ?? 'control'
    if (this.upload.sendNow(bytes, lane, ahead)) this.leave(to, datagram, bytes, kinds, data)
    else this.upload.send(bytes, lane, () => this.leave(to, datagram, bytes, kinds, data), ahead)
    return bytes
  }

  /** An address list without peers behind symmetric NATs: nobody we tell could reach them (their
   * NAT opens a new mapping per destination and lets in only those they contacted). */
  private withoutUnreachable(m: Message): Message {
    // No peer ever said it is behind one (this handler is the only writer of `Peer.nat`): nothing
    // to look up. A lookup per address of every list showed in the simulator's profile.
    if (!this.symmetricHeard) return m
    const list = (m as { peers: string[] }).peers
    const unreachable = (a: string): boolean => this.peers.get(a)?.nat === 'symmetric'
    // Nearly always none: the message goes as it is, without a copy of its list.
    return list.some(unreachable) ? { ...m, peers: list.filter((a) => !unreachable(a)) } as Message : m
  }

  /** One datagram onto the transport (decoded messages with their size, or bytes), then counted. */
  private leave(to: string, datagram: Message[] | Buffer, bytes: number, batch: Outgoing[], data: Outgoing | undefined): void {
    if (Buffer.isBuffer(datagram)) (this.sides.size === 0 ? this.transport : this.sides.get(to) ?? this.transport).send(datagram, to)
    else this.transport.sendDecoded!(datagram, bytes, to)
    if (this.uplink) this.learnUplink(this.uplink)
    this.account(bytes, batch, data)
  }

  /** Without --max-upload, the uplink's measured rate becomes the pacer's limit once known, a
   * tenth under it so the link's own queue drains (UploadPacer.adopt). */
  private learnUplink(uplink: UplinkEstimate): void {
    uplink.sample()
    if (this.upload.limit !== null || this.uplinkPacing !== 'viewer') return
    const rate = uplink.bytesPerSecond()
    if (rate !== undefined) this.upload.adopt(rate * MEASURED_PACE)
  }

  private account(bytes: number, out: Outgoing[], data: Outgoing | undefined): void {
    this.counters.datagramsOut++
    this.counters.bytesOut += bytes
    this.metrics.datagramSent(data?.kind ?? 'control', data?.role ?? 'relay', bytes)
    for (const o of out) if (o.m.type === 'Content' && o.kind === 'stream') this.metrics.streamBytesUploaded?.(o.role, o.m.data.length)
  }

  private drop(reason: Parameters<MetricsSink['datagramDropped']>[0]): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1
    this.metrics.datagramDropped(reason)
  }

  /** A datagram off the wire: opened first when sealed. A seal that fails authentication is the
   * sender's fault and charged; a session we do not have (we restarted) is not. */
  private decodeWire(buf: Buffer, from: string): WireResult {
    if (!this.sealer) return decodeDatagram(buf)
    if (!isSealed(buf)) {
      const d = decodeDatagram(buf)
      if (!d.ok) return d
      const kept = this.sealer.plainKept(from, d.messages)
      if (kept === d.messages) return d
      return kept.length === 0 ? { ok: false, reason: 'plain_from_sealed' } : { ...d, messages: kept, cut: true }
    }
    const r = this.sealer.open(from, buf)
    if (r === 'bad_seal') this.penalise(from, 'bad_seal')
    return typeof r === 'string' ? { ok: false, reason: r } : decodeOpened(r)
  }

  /** The socket handler. Nothing a stranger sends can throw past this function. A datagram comes
   * as bytes, decoded only once it is admitted, or (the simulator's handover) as its messages. */
  private receive(size: number, from: string, buf: Buffer | undefined, messages: Message[] | undefined): void {
    if (this.closed) return
    /** A file answer's bytes were reserved by its request (DownloadSession): not charged again. */
    let reserved = false
    try {
      this.counters.datagramsIn++
      this.counters.bytesIn += size
      if (size > MAX_DATAGRAM_BYTES) return this.drop('oversize')
      if (this.isSelf(from)) return this.drop('self')
      const known = this.peers.get(from)
      if (known && this.peers.isBanned(known)) return this.drop('banned')
      const peer = known ?? this.peers.touch(from, 'heard')
      // An address never seen: a birthday punch waits for one (src/mesh/nat/birthday-punch.ts).
      if (!known) this.emit('stranger', from)
      if (!this.peers.admit(peer)) {
        // Charged at most once a second: a sustained flood ends in a ban (then dropped before any
        // work), a short burst over the limit fades away.
        if (peer.penalty === 0 || this.timers.now() - peer.penaltyAt >= FLOOD_CHARGE_INTERVAL_MS) this.penalise(from, 'flood')
        return this.drop('rate_limited')
      }
      const decoded: WireResult = buf !== undefined ? this.decodeWire(buf, from) : { ok: true, messages: messages ?? [], skipped: NOTHING_SKIPPED }
      if (!decoded.ok && decoded.reason === 'unknown_session') {
        // Sealed under a session we lack (we restarted): what it sent pays for what we answer
        // (SecureSessions.lost), within 2x as for any datagram from an unproven address.
        if (!peer.verified) peer.unverifiedRecv += size
        this.drop(decoded.reason)
        return this.sealer?.lost(from)
      }
      if (!decoded.ok) return this.drop(decoded.reason)
      let content = false
      for (const m of decoded.messages) {
        if (m.type !== 'Content') continue
        content = true
        if (!m.id.startsWith('stream/')) reserved = true
      }
      if (decoded.skipped.bad > 0) this.drop('bad_message')
      if (decoded.skipped.unknown > 0) this.drop('unknown_type')
      peer.lastHeard = this.timers.now()
      if (!peer.verified) peer.unverifiedRecv += size
      const kind: TrafficKind = content ? 'stream' : 'control'
      this.metrics.datagramReceived(kind, size)
      for (const m of decoded.messages) {
        if (m.type === 'PleaseAlwaysReturnThisMessage' && isOurCookie(m.value, this.cookieTexts(from, peer).cookie)) {
          // It asks us to return the cookie we hand to this very address: it is our own datagram,
          // come back under an address of ours we did not know (a NAT's, a peer's view of us).
          this.log.debug('heard ourselves', { addr: from })
          this.selves.learn(from)
          this.peers.forget(from)
          return this.drop('self')
        }
      }
      let asksEcho = false
      let newCookie = false
      for (const m of decoded.messages) {
        if (m.type === 'AlwaysReturned' && isOurCookie(m.value, this.cookieTexts(from, peer).cookie)) {
          if (!peer.verified) this.log.debug('peer verified', { peer: from })
          peer.verified = true
        } else if (m.type === 'PleaseAlwaysReturnThisMessage') {
          asksEcho = true
          // Kept only when it changed: the echo's encoding is made again for each new value.
          if (!sameJson(peer.theirCookie, m.value)) {
            newCookie = true
            peer.theirCookie = m.value
          }
        }
      }
      // Its sender waits for our echo to prove us: it gets one even when nothing else in the
      // datagram wants an answer, when the cookie is new to us or the datagram says nothing else
      // (whole, as it came). Before, a peer that proved itself in the same datagram went
      // unanswered (a proven peer's lone ask was), and could not prove us until we next wrote to
      // it: 5-6 s when a birthday punch met a mapped cone viewer, whose answer to the punch's probe
      // was the first word (NAT-LAB.md, session 24). A datagram of echoes alone asks nothing and
      // is never answered, or two proven peers would echo each other forever.
      const whole = decoded.cut !== true && decoded.skipped.bad === 0 && decoded.skipped.unknown === 0
      void this.dispatch(decoded.messages, peer, from, asksEcho, asksEcho && (newCookie || (whole && decoded.messages.every(isCookieMessage))))
    } catch (err) {
      // A bug of ours, not the sender's fault: log it, keep the node up.
      this.log.error('datagram handler failed', { from, err })
    } finally {
      // Every byte that arrived took download capacity, whatever became of it here.
      this.download.arrived(size, reserved)
    }
  }

  /** Hands each message to its handlers and sends the replies they queued, together. Synchronous
   * unless a handler returned a promise: most datagrams are handled without one, and an async
   * function per datagram (its promise, its closures) showed in the simulator's profile. */
  private dispatch(messages: Message[], peer: Peer, from: string, asksEcho: boolean, echoOwed: boolean): void {
    const ctx = new DatagramCtx(from, peer, this.roomFor, asksEcho, echoOwed)
    let pending: Promise<void>[] | undefined
    for (const m of messages) {
      if (STREAM_EXTENSION.has(m.type)) peer.speaksStreams = true
      if (m.type === 'IAlsoSpeak' && m.extensions.includes(OUR_EXTENSION)) {
        peer.speaksStreams = true
        peer.grantsByTag = m.extensions.includes(GRANT_BY_TAG)
        peer.saysPunchMet = m.extensions.includes(PUNCH_MET)
        // Below the LCDP size nobody needs to go; above it only what the peer says it takes.
        peer.maxDatagramBytes = Math.max(SMALL_DATAGRAM_BYTES, m.maxDatagramBytes)
        if (!peer.toldCaps) { ctx.queue({ m: this.capabilities(from), kind: 'control', role: 'relay' }); peer.toldCaps = true }
      }
      const hs = this.handlers.get(m.type)
      if (hs === undefined) continue
      for (let i = 0; i < hs.length; i++) {
        const h = hs[i]
        try {
          const r = h(m, ctx)
          if (r) (pending ??= []).push(r.catch((err) => this.log.warn('handler failed', { type: m.type, from, err })))
        } catch (err) {
          this.log.warn('handler failed', { type: m.type, from, err })
        }
      }
    }
    if (pending) void this.answerAfter(pending, messages, ctx)
    else this.answer(messages, ctx)
  }

  /** The replies of a datagram whose handlers wait for something: sent when they are done, or
   * after HANDLER_TIMEOUT_MS with what was queued by then. */
  private async answerAfter(pending: Promise<void>[], messages: Message[], ctx: DatagramCtx): Promise<void> {
    let timer: Timer | undefined
    await Promise.race([Promise.all(pending), new Promise<void>((r) => { timer = this.timers.setTimeout(r, HANDLER_TIMEOUT_MS) })])
    this.timers.clear(timer)
    this.answer(messages, ctx)
  }

  private answer(messages: Message[], ctx: DatagramCtx): void {
    // From an unverified sender, a datagram that asks for a cookie echo or carries requests gets an
    // answer even when we have nothing to say, so the sender learns our cookie in the same round
    // trip (the answer is within 2x of the datagram, so it amplifies nothing). From any sender, one
    // whose echo we owe (receive, or a handler's ctx.echo()) gets at least the echo.
    const wantsAnswer = !ctx.peer.verified && messages.some((m) => m.type.startsWith('Please'))
    if (ctx.out.length > 0 || wantsAnswer || ctx.echoOwed) this.sendAll(ctx.from, ctx.out, true, false)
  }

  /** What the 2x rule leaves an unverified peer for replies, past the cookie messages and `queued`. */
  private readonly roomFor = (peer: Peer, from: string, queued: number): number => {
    const twice = this.twiceLeft(peer)
    return twice - this.prefixFor(from, peer, twice).bytes - queued
  }

  /** From now on `peer` is spoken to through side socket `t`, whose datagrams are handled as the
   * main socket's; `first` is one that already arrived on it. False (and `t` untouched) when the
   * node is closed or keeps MAX_SIDE_SOCKETS already. */
  adoptSide(t: Transport, peer: string, first?: Buffer): boolean {
    if (this.closed || this.sides.has(peer) || this.sides.size >= MAX_SIDE_SOCKETS) return false
    this.sides.set(peer, t)
    t.onDatagram((buf, from) => this.receive(buf.length, from, buf, undefined))
    if (first !== undefined) this.receive(first.length, peer, first, undefined)
    return true
  }

  /** Closes the side socket of `peer` (gone silent): what we send it leaves the main socket again. */
  releaseSide(peer: string): void {
    const t = this.sides.get(peer)
    if (t === undefined) return
    this.sides.delete(peer)
    void t.close()
  }

  /** Peers we speak to through side sockets. */
  sidePeers(): string[] { return [...this.sides.keys()] }

  /** Charges a peer for bad data or behaviour; bans it past the threshold. */
  penalise(addr: string, reason: PenaltyReason): void {
    const p = this.peers.get(addr)
    if (!p) return
    const banned = this.peers.penalise(p, reason)
    this.metrics.peerPenalised(reason, banned)
    if (banned) this.log.warn('peer banned', { peer: addr, reason })
    this.emit('penalised', addr, reason, banned)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const t of this.intervals) this.timers.clear(t)
    this.intervals = []
    this.upload.close()
    if (this.init.peersFile) await this.peers.save(this.init.peersFile).catch(() => {})
    await Promise.all([this.transport, ...this.sides.values()].map((t) => t.close()))
    this.sides.clear()
    this.emit('close')
  }
}

/** The reply queue of a datagram nobody answered: shared, never added to (DatagramCtx.queue). */
const NO_REPLIES: Outgoing[] = []
/** The messages of the cookie exchange, which lead datagrams (prefixFor). */
const isCookieMessage = (m: Message): boolean => m.type === 'PleaseAlwaysReturnThisMessage' || m.type === 'AlwaysReturned'
/** Two cookie values alike (each at most 256 bytes of JSON; the same object in the simulator's handover). */
const sameJson = (a: Json | undefined, b: Json): boolean => a === b || (a !== undefined && JSON.stringify(a) === JSON.stringify(b))

/** What the handlers of one datagram get: who sent it, and the reply queue that leaves together. */
class DatagramCtx implements Ctx {
  /** The replies, made with the first: most datagrams (a pushed chunk) get none. */
  out: Outgoing[] = NO_REPLIES
  readonly verified: boolean
  /** Encoded bytes queued so far, counted only for an unverified peer (its 2x budget). */
  private queued = 0

  /** `echoOwed`: the answer carries our echo of the sender's cookie even with nothing queued. */
  constructor(readonly from: string, readonly peer: Peer, private readonly roomFor: (peer: Peer, from: string, queued: number) => number, readonly asksEcho: boolean, public echoOwed: boolean) {
    this.verified = peer.verified
  }

  echo(): void { this.echoOwed = true }

  reply(m: Message, kind: TrafficKind = 'control', role: TrafficRole = 'relay'): void {
    this.queue({ m, kind, role })
    if (!this.peer.verified) this.queued += encodedSize(m)
  }

  room(): number { return this.peer.verified ? Infinity : this.roomFor(this.peer, this.from, this.queued) }

  queue(o: Outgoing): void {
    if (this.out === NO_REPLIES) this.out = [o]
    else this.out.push(o)
  }
}

/** Whether any message is a file answer (they travel one to a datagram under --max-upload). */
function anyFile(out: Outgoing[]): boolean {
  for (const o of out) if (o.kind === 'file') return true
  return false
}

/** Peers a probe greets at most. */
const PROBED_PEERS = 16

/** Before `b` in a probe's order: configured peers first, then the most recently heard. */
function probeFirst(a: Peer, b: Peer): boolean {
  const ca = a.origin === 'configured'
  return ca !== (b.origin === 'configured') ? ca : a.lastHeard > b.lastHeard
}

function isLoopback(addr: string): boolean {
  return addr.startsWith('127.') || addr.startsWith('[::1]:') || addr.startsWith('[::ffff:127.')
}

function isOurCookie(v: Json, ours: string): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && v.cookie === ours
}

/** `host:port` from a flag to an address string; names resolve (localhost in tests). */
export async function resolvePeer(spec: string): Promise<string> {
  const a = parseAddress(spec)
  if (!a) throw Object.assign(new Error(`bad peer address "${spec}" (want host:port)`), { code: 'ERR_BAD_PEER' })
  const ip = isAddress(formatAddress(a.host, a.port)) ? a.host : (await lookup(a.host)).address
  return formatAddress(ip, a.port)
}
