// Hostile swarm members for the hostile-swarm tests and `npm run fuzz`, speaking cjp2p JSON over
// a raw transport (no CjNode: they do what our code never would): a real UDP socket by default, or
// an endpoint of the in-process network on virtual time (`HostileIo`), so the same attackers run
// against a swarm on real sockets or in a virtual swarm. Each proves its address to its targets by
// echoing their cookies, as any peer can, so the targets treat it as a verified peer.
//
// - Poisoner: sends junk for blocks 1-3 of the chunks about to be published, claiming to be the
//   source (hops 0), to mix it with the stripe parents' honest blocks.
// - Squatter: an address that hashes into one stripe (so push-down favours it), subscribes to the
//   source in that stripe, accepts every child that asks, and feeds nothing.
import { UdpTransport, type Transport } from '../src/mesh/transport.ts'
import { realTimers, type Timer, type Timers } from '../src/util/timers.ts'
import { interiorStripe } from '../src/mesh/stream-policy.ts'
import { BLOCK_SIZE, CHUNK_SIZE } from '../src/store/stream-types.ts'

type Raw = Record<string, unknown>

/** Where the attackers' datagrams go and whose clock they keep: real UDP and wall time by default. */
export interface HostileIo {
  transport(): Promise<Transport>
  timers: Timers
}
const realIo: HostileIo = { transport: () => UdpTransport.bind(), timers: realTimers }

/** One raw endpoint that learns and echoes each target's cookie. */
export class RawSocket {
  private cookies = new Map<string, unknown>()
  private handlers: ((m: Raw, from: string) => void)[] = []
  sent = 0

  readonly address: string

  private constructor(private sock: Transport) {
    this.address = sock.address
    sock.onDatagram((buf, from) => {
      let msgs: unknown
      try { msgs = JSON.parse(buf.toString('utf8')) } catch { return }
      if (!Array.isArray(msgs)) return
      for (const m of msgs as Raw[]) {
        if (m && typeof m === 'object' && 'PleaseAlwaysReturnThisMessage' in m) this.cookies.set(from, m.PleaseAlwaysReturnThisMessage)
        for (const h of this.handlers) h(m, from)
      }
    })
  }

  static async open(io: HostileIo): Promise<RawSocket> {
    return new RawSocket(await io.transport())
  }

  verifiedAt(to: string): boolean { return this.cookies.has(to) }
  /** Takes the cookie another endpoint learned from `to`: a node derives cookies from the sender's
   * IP, so one handshake serves every endpoint on the same host. */
  adoptCookie(to: string, from: RawSocket): void { if (from.cookies.has(to)) this.cookies.set(to, from.cookies.get(to)) }
  onMessage(fn: (m: Raw, from: string) => void): void { this.handlers.push(fn) }

  /** Sends with the target's cookie echoed once we have it; before that, padded so the target's
   * 2x budget lets its answer (with its cookie request) through. */
  send(to: string, msgs: Raw[]): void {
    const cookie = this.cookies.get(to)
    const body = cookie === undefined ? [{ Padding: 'x'.repeat(400) }, ...msgs] : [{ AlwaysReturned: cookie }, ...msgs]
    const buf = Buffer.from(JSON.stringify(body))
    if (this.closed) return
    this.sent += buf.length
    this.sock.send(buf, to)
  }

  private closed = false
  close(): void {
    if (this.closed) return
    this.closed = true
    void this.sock.close()
  }
}

/** A block of junk from the attacker's clock's chance (seeded on virtual time: a run replays). */
function junk(timers: Timers): Buffer {
  const b = Buffer.allocUnsafe(BLOCK_SIZE)
  for (let i = 0; i < BLOCK_SIZE; i += 4) b.writeUInt32LE(Math.floor(timers.random() * 2 ** 32), i)
  return b
}

/** Sends junk for blocks 1-3 of the next few chunks of a stream to its targets, claiming hops 0. */
export class Poisoner {
  private head = 0
  private timer?: Timer
  junkBlocks = 0

  private constructor(private sock: RawSocket, private timers: Timers, private streamId: string, private targets: string[]) {
    sock.onMessage((m) => {
      const h = (m as { ThisStreamGrew?: { chunks?: unknown } }).ThisStreamGrew
      if (h && typeof h.chunks === 'number') this.head = Math.max(this.head, h.chunks)
    })
  }

  static async open(streamId: string, targets: string[], io: HostileIo = realIo): Promise<Poisoner> {
    return new Poisoner(await RawSocket.open(io), io.timers, streamId, targets)
  }

  get address(): string { return this.sock.address }

  /** Every `everyMs`: learn the edge from each target and poison the chunks about to come. */
  start(everyMs = 40, ahead = 3): void {
    this.timer = this.timers.setInterval(() => {
      for (const t of this.targets) {
        this.sock.send(t, [{ PleaseSendStreamHead: { id: this.streamId } }])
        if (!this.sock.verifiedAt(t) || this.head === 0) continue
        for (let n = this.head; n < this.head + ahead; n++) {
          for (let b = 1; b < CHUNK_SIZE / BLOCK_SIZE; b++) {
            this.sock.send(t, [{ Content: { id: this.streamId, offset: n * CHUNK_SIZE + b * BLOCK_SIZE, base64: junk(this.timers).toString('base64'), hops: 0 } }])
            this.junkBlocks++
          }
        }
      }
    }, everyMs)
  }

  close(): void { this.timers.clear(this.timer); this.sock.close() }
}

/** A verified peer interior in `stripe` that takes the source's child slot there and feeds nothing. */
export class Squatter {
  private timer?: Timer
  /** Children that asked us and were told yes. */
  readonly children = new Set<string>()
  /** Stripes in which the source said it will push to us. */
  readonly accepted = new Set<number>()
  private head = 0

  private constructor(private sock: RawSocket, private timers: Timers, private streamId: string, readonly stripe: number, private source: string) {
    sock.onMessage((m, from) => {
      // Answers probes like a good peer, so joiners finish their handshake and subscribe.
      if ('PleaseReturnThisMessage' in m) this.sock.send(from, [{ ReturnedMessage: m.PleaseReturnThisMessage }])
      const sub = (m as { PleaseKeepSendingMe?: { stripe?: unknown } }).PleaseKeepSendingMe
      if (sub && typeof sub.stripe === 'number') {
        // Yes to everyone, in every stripe: the more children starve, the better.
        this.children.add(from)
        this.sock.send(from, [{ IWillKeepSendingYou: { id: this.streamId, stripe: sub.stripe } }])
      }
      const h = (m as { ThisStreamGrew?: { chunks?: unknown } }).ThisStreamGrew
      if (h && typeof h.chunks === 'number') this.head = Math.max(this.head, h.chunks)
      const ok = (m as { IWillKeepSendingYou?: { stripe?: unknown } }).IWillKeepSendingYou
      if (ok && typeof ok.stripe === 'number' && from === this.source) this.accepted.add(ok.stripe)
    })
  }

  /** Binds ports until one hashes into `stripe`: interior there, so push-down prefers it. */
  static async open(streamId: string, stripe: number, source: string, io: HostileIo = realIo): Promise<Squatter> {
    for (;;) {
      const s = await RawSocket.open(io)
      if (interiorStripe(s.address) === stripe) return new Squatter(s, io.timers, streamId, stripe, source)
      s.close()
    }
  }

  get address(): string { return this.sock.address }

  /** Subscribes to the source in its stripe, and again every resubscribe period, as a child would. */
  start(everyMs = 500): void {
    const tick = () => {
      this.sock.send(this.source, [{ PleaseSendStreamHead: { id: this.streamId } }])
      // From the edge: a catch-up would cost the source upload, and a squatter wants none of it.
      if (this.sock.verifiedAt(this.source) && this.head > 0) this.sock.send(this.source, [{ PleaseKeepSendingMe: { id: this.streamId, stripe: this.stripe, from: this.head } }])
    }
    tick()
    this.timer = this.timers.setInterval(tick, everyMs)
  }

  close(): void { this.timers.clear(this.timer); this.sock.close() }
}
