// Datagram transports. A node talks through this interface only, so the same node runs on a real
// UDP socket, on a UDP socket whose ingress is shaped by a link model, or inside an in-process
// network (many nodes in one test, no sockets).
import dgram from 'node:dgram'
import { EventEmitter } from 'node:events'
import { isIP } from 'node:net'

export interface Transport {
  /** `ip:port` or `[v6]:port` this transport receives on. */
  readonly address: string
  send(buf: Buffer, to: string): void
  onDatagram(fn: (buf: Buffer, from: string) => void): void
  close(): Promise<void>
}

export function formatAddress(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`
}

export function parseAddress(addr: string): { host: string; port: number } | null {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(addr) ?? /^([^:]+):(\d+)$/.exec(addr)
  if (!m) return null
  const port = Number(m[2])
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null
  return { host: m[1], port }
}

/** A real UDP socket. Send errors (unreachable, EPERM from a firewall) are local and counted, never thrown. */
export class UdpTransport implements Transport {
  private socket: dgram.Socket
  private handler: (buf: Buffer, from: string) => void = () => {}
  private closed = false
  sendErrors = 0
  address = ''

  private constructor(socket: dgram.Socket) {
    this.socket = socket
    socket.on('message', (buf, rinfo) => this.handler(buf, formatAddress(rinfo.address, rinfo.port)))
    // An ICMP error from one peer must not take the node down.
    socket.on('error', () => { this.sendErrors++ })
  }

  static async bind(opts: { host?: string; port?: number; recvBufferBytes?: number } = {}): Promise<UdpTransport> {
    const host = opts.host ?? '127.0.0.1'
    const socket = dgram.createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4', reuseAddr: false })
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => reject(err)
      socket.once('error', fail)
      socket.bind(opts.port ?? 0, host, () => { socket.off('error', fail); resolve() })
    })
    // A live stream arrives in bursts of 4 KiB datagrams; the default buffer drops them under load.
    try { socket.setRecvBufferSize(opts.recvBufferBytes ?? 4 << 20) } catch { /* capped by the OS: keep its default */ }
    try { socket.setSendBufferSize(4 << 20) } catch { /* ditto */ }
    const t = new UdpTransport(socket)
    const a = socket.address()
    t.address = formatAddress(a.address, a.port)
    return t
  }

  onDatagram(fn: (buf: Buffer, from: string) => void): void { this.handler = fn }

  send(buf: Buffer, to: string): void {
    if (this.closed) return
    const a = parseAddress(to)
    if (!a) { this.sendErrors++; return }
    // No callback: a failed send surfaces as the socket's 'error' event (counted above), and a
    // closure per datagram showed in profiles.
    this.socket.send(buf, a.port, a.host)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await new Promise<void>((resolve) => this.socket.close(() => resolve()))
  }
}

/** A link model: one-way delay, random loss and a bandwidth cap, applied to what a node receives
 * (delay on ingress, as on real paths, so held packets never fill a sender's buffer). */
export interface LinkModel { delayMs: number; jitterMs?: number; loss: number; bytesPerSecond?: number }

/** Seeded PRNG (mulberry32): the same seed replays the same losses. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Shapes another transport's ingress with a link model. */
export class ShapedTransport implements Transport {
  private handler: (buf: Buffer, from: string) => void = () => {}
  private busyUntil = 0
  private timers = new Set<NodeJS.Timeout>()
  dropped = 0

  constructor(private inner: Transport, private link: LinkModel, private random: () => number = Math.random) {
    inner.onDatagram((buf, from) => this.arrive(buf, from))
  }

  get address(): string { return this.inner.address }
  onDatagram(fn: (buf: Buffer, from: string) => void): void { this.handler = fn }
  send(buf: Buffer, to: string): void { this.inner.send(buf, to) }

  private arrive(buf: Buffer, from: string): void {
    if (this.random() < this.link.loss) { this.dropped++; return }
    const now = Date.now()
    let at = now + this.link.delayMs + (this.link.jitterMs ?? 0) * this.random()
    if (this.link.bytesPerSecond) {
      // A FIFO bottleneck: each datagram occupies the link for its serialisation time.
      const start = Math.max(now, this.busyUntil)
      this.busyUntil = start + (buf.length * 1000) / this.link.bytesPerSecond
      if (this.busyUntil - now > 1000) { this.dropped++; this.busyUntil -= (buf.length * 1000) / this.link.bytesPerSecond; return }
      at = Math.max(at, this.busyUntil)
    }
    const wait = at - now
    if (wait <= 0) { this.handler(buf, from); return }
    const t = setTimeout(() => { this.timers.delete(t); this.handler(buf, from) }, wait)
    this.timers.add(t)
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    await this.inner.close()
  }
}

/** An in-process network: transports addressed 127.0.0.1:<n> that deliver through a link model
 * without sockets, for tests that run many nodes in one process deterministically. */
export class MemoryNetwork extends EventEmitter {
  private endpoints = new Map<string, MemoryTransport>()
  private nextPort = 40000
  private random: () => number
  delivered = 0
  lost = 0

  constructor(public link: LinkModel = { delayMs: 0, loss: 0 }, seed = 1) {
    super()
    this.random = seededRandom(seed)
  }

  createTransport(): MemoryTransport {
    const t = new MemoryTransport(this, `127.0.0.1:${this.nextPort++}`)
    this.endpoints.set(t.address, t)
    return t
  }

  /** Severs an endpoint, as if its host vanished. */
  remove(address: string): void { this.endpoints.delete(address) }

  deliver(buf: Buffer, from: string, to: string): void {
    if (this.random() < this.link.loss) { this.lost++; return }
    const delay = this.link.delayMs + (this.link.jitterMs ?? 0) * this.random()
    const go = () => {
      const t = this.endpoints.get(to)
      if (!t) return
      this.delivered++
      t.receive(Buffer.from(buf), from)
    }
    if (delay <= 0) queueMicrotask(go)
    else setTimeout(go, delay).unref()
  }
}

export class MemoryTransport implements Transport {
  private handler: (buf: Buffer, from: string) => void = () => {}
  private closed = false
  constructor(private net: MemoryNetwork, readonly address: string) {}
  onDatagram(fn: (buf: Buffer, from: string) => void): void { this.handler = fn }
  send(buf: Buffer, to: string): void { if (!this.closed) this.net.deliver(buf, this.address, to) }
  receive(buf: Buffer, from: string): void { if (!this.closed) this.handler(buf, from) }
  async close(): Promise<void> { this.closed = true; this.net.remove(this.address) }
}
