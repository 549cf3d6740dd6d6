// Keeps slow or idle HTTP clients from taking every connection slot. A plain connection cap
// (server.maxConnections) refuses the NEWEST connection when full, so 256 sockets that each sent
// half a request locked the player out of its own playlist. Here a new connection is always
// admitted while some slot holds an idle socket (half a request, or a keep-alive with nothing in
// flight): the oldest idle one is closed to make room, first from the new connection's own
// address when that address is at its cap, else the oldest anywhere. Only when every slot is busy
// serving a request is the newcomer turned away. The header and request timeouts (http-server.ts)
// close half-sent requests within seconds on top of this.
import type { Server } from 'node:http'
import type { Socket } from 'node:net'

interface Conn { socket: Socket; address: string; since: number; busy: number }

export interface ConnectionGuardInit {
  /** Open connections at once. */
  max: number
  /** Open connections from one address. */
  perAddress: number
}

export class ConnectionGuard {
  private readonly conns = new Map<Socket, Conn>()
  private readonly perAddress = new Map<string, number>()
  private seq = 0

  constructor(server: Server, private readonly init: ConnectionGuardInit) {
    server.on('connection', (socket: Socket) => this.admit(socket))
    server.on('request', (req, res) => {
      const c = this.conns.get(req.socket)
      if (!c) return
      c.busy++
      res.once('close', () => { c.busy--; c.since = ++this.seq })
    })
  }

  get size(): number {
    return this.conns.size
  }

  private admit(socket: Socket): void {
    const address = socket.remoteAddress ?? '?'
    if ((this.perAddress.get(address) ?? 0) >= this.init.perAddress && !this.evictIdle(address)) {
      socket.destroy()
      return
    }
    if (this.conns.size >= this.init.max && !this.evictIdle(null)) {
      socket.destroy()
      return
    }
    const c: Conn = { socket, address, since: ++this.seq, busy: 0 }
    this.conns.set(socket, c)
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1)
    socket.once('close', () => this.forget(c))
  }

  /** Takes a connection out of the books; idempotent (an evicted socket still fires 'close'). */
  private forget(c: Conn): void {
    if (this.conns.get(c.socket) !== c) return
    this.conns.delete(c.socket)
    const left = (this.perAddress.get(c.address) ?? 1) - 1
    if (left > 0) this.perAddress.set(c.address, left)
    else this.perAddress.delete(c.address)
  }

  /** Closes the longest-idle connection (of `address`, or of anyone); false when all are busy. */
  private evictIdle(address: string | null): boolean {
    let oldest: Conn | null = null
    for (const c of this.conns.values()) {
      if (c.busy > 0 || (address !== null && c.address !== address)) continue
      if (!oldest || c.since < oldest.since) oldest = c
    }
    if (!oldest) return false
    // Synchronously out of the books, so a burst of newcomers evicts a different one each.
    this.forget(oldest)
    oldest.socket.destroy()
    return true
  }
}
