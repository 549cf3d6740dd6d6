// Datagram transports. A node talks through this interface only, so the same node runs on a real
// UDP socket, on a UDP socket whose ingress is shaped by a link model, or inside an in-process
// network (many nodes in one test, no sockets). The shaped and in-process ones are in link.ts.
import dgram from 'node:dgram'
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns'
import { isIP } from 'node:net'
import type { Message } from './messages.ts'
import type { UplinkCounters } from './bandwidth/uplink-estimate.ts'

export interface Transport {
  /** `ip:port` or `[v6]:port` this transport receives on. */
  readonly address: string
  send(buf: Buffer, to: string): void
  onDatagram(fn: (buf: Buffer, from: string) => void): void
  /** Only the simulator's in-process network (MemoryNetwork with `handover`) has these: a datagram
   * travels as the messages it encodes, its encoded size still charged to the links, so thousands
   * of nodes in one process skip the JSON codec. Everything else a node does is unchanged. */
  sendDecoded?(messages: Message[], bytes: number, to: string): void
  onDecoded?(fn: (messages: Message[], bytes: number, from: string) => void): void
  /** Bytes that have left for the wire so far and bytes handed to send() still waiting to
   * (src/mesh/bandwidth/uplink-estimate.ts learns the uplink's capacity from them); absent: unknown. */
  uplinkCounters?(): UplinkCounters
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

/** dgram passes every destination through its lookup; dns.lookup answers an IP literal only on the
 * next tick (a closure and a tick per datagram sent, seen in a viewer's profile). Peers are IP
 * literals: answered at once, as a connected socket's send is; names still go to the resolver. */
function literalLookup(hostname: string, options: LookupOneOptions, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const family = isIP(hostname)
  if (family !== 0) callback(null, hostname, family)
  else dnsLookup(hostname, options, callback)
}

/** A real UDP socket. Send errors (unreachable, EPERM from a firewall) are local and counted, never thrown. */
export class UdpTransport implements Transport {
  private socket: dgram.Socket
  private handler: (buf: Buffer, from: string) => void = () => {}
  private closed = false
  sendErrors = 0
  address = ''
  /** Bytes handed to the socket (uplinkCounters). */
  private handedBytes = 0

  private constructor(socket: dgram.Socket) {
    this.socket = socket
    socket.on('message', (buf, rinfo) => this.handler(buf, formatAddress(rinfo.address, rinfo.port)))
    // An ICMP error from one peer must not take the node down.
    socket.on('error', () => { this.sendErrors++ })
  }

  static async bind(opts: { host?: string; port?: number; recvBufferBytes?: number } = {}): Promise<UdpTransport> {
    const host = opts.host ?? '127.0.0.1'
    const socket = dgram.createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4', reuseAddr: false, lookup: literalLookup })
    await new Promise<void>((resolve, reject) => {
      // A socket that failed to bind still holds its descriptor: a punch binds hundreds of them.
      const fail = (err: Error) => { socket.close(); reject(err) }
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

  /** libuv's queue of datagrams the kernel would not take yet: it backs up only when this host's
   * own interface (or a queueing discipline on it) is the bottleneck; a home router's queue
   * further on is invisible from here. */
  uplinkCounters(): UplinkCounters {
    const queuedBytes = this.socket.getSendQueueSize()
    return { leftBytes: this.handedBytes - queuedBytes, queuedBytes }
  }

  send(buf: Buffer, to: string): void {
    if (this.closed) return
    const a = parseAddress(to)
    if (!a) { this.sendErrors++; return }
    this.handedBytes += buf.length
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
