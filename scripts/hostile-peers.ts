// Hostile swarm members for the hostile-swarm tests and `npm run fuzz`, speaking cjp2p JSON over
// raw UDP sockets (no CjNode: they do what our code never would). Each proves its address to its
// targets by echoing their cookies, as any peer can, so the targets treat it as a verified peer.
//
// - Poisoner: sends junk for blocks 1-3 of the chunks about to be published, claiming to be the
//   source (hops 0), to mix it with the stripe parents' honest blocks.
// - Squatter: an address that hashes into one stripe (so push-down favours it), subscribes to the
//   source in that stripe, accepts every child that asks, and feeds nothing.
import dgram from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { parseAddress } from '../src/mesh/transport.ts'
import { interiorStripe } from '../src/mesh/stream-policy.ts'
import { BLOCK_SIZE, CHUNK_SIZE } from '../src/store/stream-types.ts'

type Raw = Record<string, unknown>

/** One raw socket that learns and echoes each target's cookie. */
class RawSocket {
  private cookies = new Map<string, unknown>()
  private handlers: ((m: Raw, from: string) => void)[] = []
  sent = 0

  readonly address: string

  private constructor(private sock: dgram.Socket) {
    this.address = `127.0.0.1:${sock.address().port}`
    sock.on('message', (buf, rinfo) => {
      const from = `${rinfo.address}:${rinfo.port}`
      let msgs: unknown
      try { msgs = JSON.parse(buf.toString('utf8')) } catch { return }
      if (!Array.isArray(msgs)) return
      for (const m of msgs as Raw[]) {
        if (m && typeof m === 'object' && 'PleaseAlwaysReturnThisMessage' in m) this.cookies.set(from, m.PleaseAlwaysReturnThisMessage)
        for (const h of this.handlers) h(m, from)
      }
    })
    sock.on('error', () => {})
  }

  static async bind(port = 0): Promise<RawSocket> {
    const sock = dgram.createSocket('udp4')
    await new Promise<void>((res, rej) => { sock.once('error', rej); sock.bind(port, '127.0.0.1', () => { sock.off('error', rej); res() }) })
    return new RawSocket(sock)
  }

  verifiedAt(to: string): boolean { return this.cookies.has(to) }
  onMessage(fn: (m: Raw, from: string) => void): void { this.handlers.push(fn) }

  /** Sends with the target's cookie echoed once we have it; before that, padded so the target's
   * 2x budget lets its answer (with its cookie request) through. */
  send(to: string, msgs: Raw[]): void {
    const a = parseAddress(to)
    if (!a) return
    const cookie = this.cookies.get(to)
    const body = cookie === undefined ? [{ Padding: 'x'.repeat(400) }, ...msgs] : [{ AlwaysReturned: cookie }, ...msgs]
    const buf = Buffer.from(JSON.stringify(body))
    if (this.closed) return
    this.sent += buf.length
    this.sock.send(buf, a.port, a.host)
  }

  private closed = false
  close(): void {
    if (this.closed) return
    this.closed = true
    this.sock.close()
  }
}

/** Sends junk for blocks 1-3 of the next few chunks of a stream to its targets, claiming hops 0. */
export class Poisoner {
  private head = 0
  private timer?: NodeJS.Timeout
  junkBlocks = 0

  private constructor(private sock: RawSocket, private streamId: string, private targets: string[]) {
    sock.onMessage((m) => {
      const h = (m as { ThisStreamGrew?: { chunks?: unknown } }).ThisStreamGrew
      if (h && typeof h.chunks === 'number') this.head = Math.max(this.head, h.chunks)
    })
  }

  static async open(streamId: string, targets: string[]): Promise<Poisoner> {
    return new Poisoner(await RawSocket.bind(), streamId, targets)
  }

  get address(): string { return this.sock.address }

  /** Every `everyMs`: learn the edge from each target and poison the chunks about to come. */
  start(everyMs = 40, ahead = 3): void {
    this.timer = setInterval(() => {
      for (const t of this.targets) {
        this.sock.send(t, [{ PleaseSendStreamHead: { id: this.streamId } }])
        if (!this.sock.verifiedAt(t) || this.head === 0) continue
        for (let n = this.head; n < this.head + ahead; n++) {
          for (let b = 1; b < CHUNK_SIZE / BLOCK_SIZE; b++) {
            this.sock.send(t, [{ Content: { id: this.streamId, offset: n * CHUNK_SIZE + b * BLOCK_SIZE, base64: randomBytes(BLOCK_SIZE).toString('base64'), hops: 0 } }])
            this.junkBlocks++
          }
        }
      }
    }, everyMs)
  }

  close(): void { clearInterval(this.timer); this.sock.close() }
}

/** A verified peer interior in `stripe` that takes the source's child slot there and feeds nothing. */
export class Squatter {
  private timer?: NodeJS.Timeout
  /** Children that asked us and were told yes. */
  readonly children = new Set<string>()
  /** Stripes in which the source said it will push to us. */
  readonly accepted = new Set<number>()
  private head = 0

  private constructor(private sock: RawSocket, private streamId: string, readonly stripe: number, private source: string) {
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
  static async open(streamId: string, stripe: number, source: string): Promise<Squatter> {
    for (;;) {
      const s = await RawSocket.bind()
      if (interiorStripe(s.address) === stripe) return new Squatter(s, streamId, stripe, source)
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
    this.timer = setInterval(tick, everyMs)
  }

  close(): void { clearInterval(this.timer); this.sock.close() }
}
