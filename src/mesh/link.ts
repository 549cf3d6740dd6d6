// The link model, one implementation for the bench (ShapedTransport around a real UDP socket) and
// for the in-process network (MemoryNetwork: many nodes in one process, on real or virtual time):
// per-path one-way delay, jitter and loss, and FIFO bottlenecks (a receiver's link rate, a
// sender's upload capacity) whose queues hold at most a second before they tail-drop, as a home
// router's buffer does. All chance comes from a seeded generator, all waiting from Timers.
import type { Timer, Timers } from '../util/timers.ts'
import { VirtualTimers, realTimers, seededRandom } from '../util/timers.ts'
import type { EventQueue, QueuedEvent } from '../util/event-queue.ts'
import type { Transport } from './transport.ts'
import type { Message } from './messages.ts'
import type { UplinkCounters } from './bandwidth/uplink-estimate.ts'

/** What a path does to a datagram: one-way delay, uniform jitter on top, random loss, and an
 * optional rate (bytes/s) of the receiver's link. */
export interface LinkModel { delayMs: number; jitterMs?: number; loss: number; bytesPerSecond?: number }

/** A full queue drops what arrives: a datagram held for longer than this would be useless anyway. */
export const MAX_QUEUE_MS = 1000

/** A FIFO bottleneck: each datagram occupies it for its serialisation time. */
export class Bottleneck {
  private busyUntil = 0
  dropped = 0
  /** Bytes that went through. */
  carried = 0

  constructor(public bytesPerSecond: number) {}

  /** When a datagram of `bytes` offered at `now` leaves the bottleneck, or null if the queue is full. */
  pass(now: number, bytes: number): number | null {
    if (!(this.bytesPerSecond > 0) || !Number.isFinite(this.bytesPerSecond)) { this.carried += bytes; return now }
    const start = Math.max(now, this.busyUntil)
    const done = start + (bytes * 1000) / this.bytesPerSecond
    if (done - now > MAX_QUEUE_MS) { this.dropped++; return null }
    this.busyUntil = done
    this.carried += bytes
    return done
  }

  /** How long a datagram offered now would wait. */
  backlogMs(now: number): number { return Math.max(0, this.busyUntil - now) }

  /** Bytes that went through and have left (`leftBytes`), and those still waiting to, at `now`. */
  counters(now: number): UplinkCounters {
    const queuedBytes = Number.isFinite(this.bytesPerSecond) && this.bytesPerSecond > 0 ? (this.backlogMs(now) * this.bytesPerSecond) / 1000 : 0
    return { leftBytes: this.carried - queuedBytes, queuedBytes }
  }
}

/** Delay, jitter and loss of one path; the receiver's rate, if any, is a Bottleneck of its own. */
export function pathDelay(link: LinkModel, random: () => number): number | null {
  if (link.loss > 0 && random() < link.loss) return null
  return link.delayMs + (link.jitterMs ? link.jitterMs * random() : 0)
}

/** Shapes another transport's ingress with a link model (delay on ingress, as on real paths, so
 * held packets never fill a sender's buffer). The bench's `--link`. */
export class ShapedTransport implements Transport {
  private handler: (buf: Buffer, from: string) => void = () => {}
  private ingress: Bottleneck
  private pending = new Set<Timer>()
  private timers: Timers
  private random: () => number
  dropped = 0

  constructor(private inner: Transport, private link: LinkModel, c: { timers?: Timers; random?: () => number } = {}) {
    this.timers = c.timers ?? realTimers
    this.random = c.random ?? this.timers.random
    this.ingress = new Bottleneck(link.bytesPerSecond ?? 0)
    inner.onDatagram((buf, from) => this.arrive(buf, from))
  }

  get address(): string { return this.inner.address }
  onDatagram(fn: (buf: Buffer, from: string) => void): void { this.handler = fn }
  send(buf: Buffer, to: string): void { this.inner.send(buf, to) }

  private arrive(buf: Buffer, from: string): void {
    const now = this.timers.now()
    const delay = pathDelay(this.link, this.random)
    const out = delay === null ? null : this.ingress.pass(now, buf.length)
    if (delay === null || out === null) { this.dropped++; return }
    const wait = Math.max(now + delay, out) - now
    if (wait <= 0) { this.handler(buf, from); return }
    const t = this.timers.setTimeout(() => { this.pending.delete(t); this.handler(buf, from) }, wait)
    this.pending.add(t)
  }

  async close(): Promise<void> {
    for (const t of this.pending) this.timers.clear(t)
    this.pending.clear()
    await this.inner.close()
  }
}

export interface MemoryNetworkInit {
  /** The path model between any two endpoints (`linkFor` may override it per pair). */
  link?: LinkModel
  linkFor?: (from: string, to: string) => LinkModel
  seed?: number
  /** First port handed out; endpoints are 127.0.0.1:<port>, nothing is bound. */
  firstPort?: number
  /** Datagrams travel as the messages they encode (sizes still charged): the simulator's one
   * declared shortcut in the wire, for when the JSON codec dominates a profile. */
  handover?: boolean
}

/** A datagram in flight on virtual time: the queued event itself, carrying what it delivers. With
 * thousands of nodes in one process every datagram waits its link's delay in the queue, and a
 * timeout per datagram (its event, its closure and the closure's context, a payload object) was
 * the garbage that outlived the young generation. It lands exactly when and in the order the
 * timeout would have (the same time, the next sequence number). */
class Landing implements QueuedEvent {
  at = 0
  seq = 0
  cancelled = false
  every = 0
  fired = false
  timer = false
  constructor(private readonly net: MemoryNetwork, private readonly to: string, private readonly from: string,
    private readonly buf: Buffer | undefined, private readonly messages: Message[] | undefined, private readonly bytes: number) {}

  fn(): void { this.net.land(this.to, this.from, this.buf, this.messages, this.bytes) }
}

/** An in-process network: transports addressed 127.0.0.1:<n> that deliver through the link model
 * without sockets, for tests and the simulator that run many nodes in one process. */
export class MemoryNetwork {
  private endpoints = new Map<string, MemoryTransport>()
  private nextPort: number
  private timers: Timers
  /** The virtual clock's queue, when on one: datagrams in flight are queued as Landings. */
  private readonly queue: EventQueue | undefined
  readonly random: () => number
  link: LinkModel
  readonly handover: boolean
  private linkFor?: (from: string, to: string) => LinkModel
  delivered = 0
  lost = 0
  /** Datagrams dropped by a full uplink or downlink queue. */
  queueDrops = 0

  constructor(c: { timers?: Timers } = {}, init: MemoryNetworkInit = {}) {
    this.timers = c.timers ?? realTimers
    this.queue = this.timers instanceof VirtualTimers ? this.timers.queue : undefined
    this.link = init.link ?? { delayMs: 0, loss: 0 }
    this.linkFor = init.linkFor
    this.random = seededRandom(init.seed ?? 1)
    this.nextPort = init.firstPort ?? 40000
    this.handover = init.handover ?? false
  }

  /** A new endpoint; `uploadBytesPerSecond` is its upload capacity (0: unlimited). */
  createTransport(init: { uploadBytesPerSecond?: number } = {}): MemoryTransport {
    const t = new MemoryTransport(this, `127.0.0.1:${this.nextPort++}`, new Bottleneck(init.uploadBytesPerSecond ?? 0))
    this.endpoints.set(t.address, t)
    return t
  }

  get(address: string): MemoryTransport | undefined { return this.endpoints.get(address) }

  now(): number { return this.timers.now() }

  /** Severs an endpoint, as if its host vanished. */
  remove(address: string): void { this.endpoints.delete(address) }

  /** @internal `buf`, or (handover) `messages` of encoded size `bytes`. */
  deliver(buf: Buffer | undefined, messages: Message[] | undefined, bytes: number, from: MemoryTransport, to: string): void {
    const size = buf !== undefined ? buf.length : bytes
    const now = this.timers.now()
    const left = from.uplink.pass(now, size)
    if (left === null) { this.queueDrops++; return }
    const link = this.linkFor ? this.linkFor(from.address, to) : this.link
    const delay = pathDelay(link, this.random)
    if (delay === null) { this.lost++; return }
    const target = this.endpoints.get(to)
    if (!target) return
    let at = left + delay
    if (link.bytesPerSecond) {
      const down = target.downlink(link.bytesPerSecond).pass(at, size)
      if (down === null) { this.queueDrops++; return }
      at = down
    }
    // The sender never touches a buffer after sending it (each datagram is built fresh), so the
    // receiver may have it without a copy.
    if (this.queue) this.queue.add(new Landing(this, to, from.address, buf, messages, bytes), now + Math.max(0, at - now))
    else this.timers.setTimeout(() => this.land(to, from.address, buf, messages, bytes), at - now)
  }

  /** @internal A datagram reaches `to`, unless its endpoint went meanwhile. */
  land(to: string, from: string, buf: Buffer | undefined, messages: Message[] | undefined, bytes: number): void {
    const t = this.endpoints.get(to)
    if (!t) return
    this.delivered++
    t.receive(buf, messages, bytes, from)
  }
}

export class MemoryTransport implements Transport {
  private handler: (buf: Buffer, from: string) => void = () => {}
  private decodedHandler: (messages: Message[], bytes: number, from: string) => void = () => {}
  private closed = false
  sendDecoded?: (messages: Message[], bytes: number, to: string) => void
  onDecoded?: (fn: (messages: Message[], bytes: number, from: string) => void) => void
  private down: Bottleneck | undefined
  /** Bytes this endpoint put on the network (after its upload queue). */
  get uploadedBytes(): number { return this.uplink.carried }

  constructor(private net: MemoryNetwork, readonly address: string, readonly uplink: Bottleneck) {
    if (net.handover) {
      this.sendDecoded = (messages, bytes, to) => { if (!this.closed) this.net.deliver(undefined, messages, bytes, this, to) }
      this.onDecoded = (fn) => { this.decodedHandler = fn }
    }
  }

  /** What our upload capacity's queue holds and has let through (UplinkEstimate). */
  uplinkCounters(): UplinkCounters { return this.uplink.counters(this.net.now()) }

  /** @internal the receiving side's rate limit, created on first use. */
  downlink(bytesPerSecond: number): Bottleneck { return (this.down ??= new Bottleneck(bytesPerSecond)) }

  onDatagram(fn: (buf: Buffer, from: string) => void): void { this.handler = fn }
  send(buf: Buffer, to: string): void { if (!this.closed) this.net.deliver(buf, undefined, buf.length, this, to) }
  /** @internal */
  receive(buf: Buffer | undefined, messages: Message[] | undefined, bytes: number, from: string): void {
    if (this.closed) return
    if (buf !== undefined) this.handler(buf, from)
    else this.decodedHandler(messages as Message[], bytes, from)
  }
  async close(): Promise<void> { this.closed = true; this.net.remove(this.address) }
}
