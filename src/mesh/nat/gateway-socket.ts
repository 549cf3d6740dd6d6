// One UDP socket to the gateway's PCP / NAT-PMP port (5351), unicast and connected to it alone: the
// kernel then delivers only what the gateway's port sends, and an ICMP "port unreachable" (a
// gateway with neither protocol) surfaces as an error instead of a silent timeout. No multicast, no
// broadcast: PCP's and NAT-PMP's unsolicited announcements (to 224.0.0.1:5350) are not listened
// for; the epoch in each reply, and an ANNOUNCE now and then, tell a gateway's restart instead.
//
// A request owns its retransmissions and its one timer: sent again after an initial delay that
// doubles each time (RFC 6887 section 8.1.1, RFC 6886 section 3.1), until an answer is accepted or
// REQUEST_TIMEOUT_MS has passed.
import { createSocket } from 'node:dgram'
import { CodedError, firstLine } from '../../util/coded-error.ts'
import type { Logger } from '../../util/logger.ts'
import type { Timer, Timers } from '../../util/timers.ts'

export type GatewayErrorCode = 'NO_ANSWER' | 'UNREACHABLE' | 'UNSUPP_VERSION' | 'REFUSED' | 'NO_GATEWAY' | 'CLOSED'
export class GatewayError extends CodedError<GatewayErrorCode> {}

/** What a request waits at most for its answer, over all its retransmissions: a gateway on the LAN
 * answers in milliseconds, and a silent one must not hold back the next protocol for long. */
export const REQUEST_TIMEOUT_MS = 10_000
/** Distinct reasons a bad reply is warned about before the rest go to debug: a gateway that keeps
 * sending garbage is one warning per kind, not a log flood. */
const WARNED_REASONS = 16

export interface GatewayDatagrams {
  send(buf: Buffer): void
  onMessage(fn: (buf: Buffer) => void): void
  onError(fn: (err: Error) => void): void
  close(): void
}

/** Opens the socket: bound to our LAN address (PCP checks that the request came from the address it
 * names), connected to the gateway. Tests inject one on loopback. */
export type OpenGatewaySocket = (gateway: string, port: number, localHost: string) => Promise<GatewayDatagrams>

export const openGatewaySocket: OpenGatewaySocket = (gateway, port, localHost) => new Promise((resolve, reject) => {
  const s = createSocket('udp4')
  const fail = (err: Error) => { s.close(); reject(err) }
  s.once('error', fail)
  s.bind({ address: localHost, port: 0 }, () => {
    s.connect(port, gateway, () => {
      s.off('error', fail)
      resolve({
        send: (buf) => s.send(buf),
        onMessage: (fn) => { s.on('message', (m) => fn(m)) },
        onError: (fn) => { s.on('error', fn) },
        close: () => { try { s.close() } catch { /* closed already */ } },
      })
    })
  })
})

/** What a reply handler says: the answer; or why the reply is not one (logged, then waited past);
 * or that the reply ends the request with an error (a refusal, another protocol's version). */
export type Accept<T> = { value: T } | { ignore: string } | { fail: GatewayError }

export interface GatewayExchangeComponents { timers: Timers; log: Logger }

export class GatewayExchange {
  private waiting: ((buf: Buffer) => void) | null = null
  private failed: ((err: Error) => void) | null = null
  private readonly warned = new Set<string>()

  constructor(private readonly c: GatewayExchangeComponents, private readonly sock: GatewayDatagrams, readonly gateway: string) {
    sock.onMessage((buf) => this.waiting?.(buf))
    sock.onError((err) => this.failed?.(new GatewayError('UNREACHABLE', `${gateway} refused (${firstLine(err)})`, { cause: err })))
  }

  /** Sends `request` until `accept` takes an answer. `initialMs`: the first retransmission's delay;
   * `jitter`: RFC 6887's RAND, a fraction of each delay drawn either way. One at a time. */
  request<T>(request: Buffer, accept: (buf: Buffer) => Accept<T>, o: { initialMs: number; jitter?: number; signal?: AbortSignal }): Promise<T> {
    if (this.waiting) return Promise.reject(new Error('a gateway request is already in flight'))
    const t = this.c.timers
    const started = t.now()
    return new Promise<T>((resolve, reject) => {
      let timer: Timer | undefined
      let delay = o.initialMs
      const done = (): void => {
        t.clear(timer)
        this.waiting = null
        this.failed = null
        o.signal?.removeEventListener('abort', aborted)
      }
      const aborted = (): void => { done(); reject(new GatewayError('CLOSED', 'closed')) }
      const send = (): void => {
        const left = REQUEST_TIMEOUT_MS - (t.now() - started)
        if (left <= 0) {
          done()
          reject(new GatewayError('NO_ANSWER', `no answer from ${this.gateway} within ${REQUEST_TIMEOUT_MS / 1000} s`))
          return
        }
        try { this.sock.send(request) } catch (err) { done(); reject(new GatewayError('UNREACHABLE', firstLine(err))); return }
        const wait = Math.min(left, delay * (1 + (o.jitter ?? 0) * (2 * t.random() - 1)))
        delay *= 2
        timer = t.setTimeout(send, wait)
      }
      this.waiting = (buf) => {
        let a: Accept<T>
        // Remote input: a decoder that throws on it is our bug, and must not take the node down.
        try { a = accept(buf) } catch (err) { a = { ignore: `unreadable (${firstLine(err)})` } }
        if ('ignore' in a) return this.warn(a.ignore)
        done()
        if ('fail' in a) reject(a.fail)
        else resolve(a.value)
      }
      this.failed = (err) => { done(); reject(err) }
      if (o.signal?.aborted) return aborted()
      o.signal?.addEventListener('abort', aborted, { once: true })
      send()
    })
  }

  private warn(reason: string): void {
    const first = !this.warned.has(reason) && this.warned.size < WARNED_REASONS
    if (first) this.warned.add(reason)
    const log = first ? this.c.log.warn : this.c.log.debug
    log.call(this.c.log, `port mapping: ignored a reply from ${this.gateway}: ${reason}`)
  }

  close(): void {
    this.failed?.(new GatewayError('CLOSED', 'closed'))
    this.sock.close()
  }
}
