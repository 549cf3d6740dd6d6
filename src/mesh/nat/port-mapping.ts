// Port mapping at the home router, behind --port-mapping: the node asks its gateway (a UPnP
// Internet Gateway Device, found by SSDP multicast on the LAN, through @achingbrain/nat-port-mapper)
// to forward its UDP port, so that peers it never contacted reach it as if it had no NAT. The
// mapping is renewed at half its lease while the node runs and removed at a clean shutdown.
// Off by default: discovery multicasts to every device on the LAN, and a mapping opens the port to
// the whole Internet. Failure (no gateway, a refusal) is one log line; the node goes on without.
// NAT-PMP and PCP are not used: the library's NAT-PMP client sends its lifetime in milliseconds as
// seconds and removes a UDP mapping as TCP (both seen against miniupnpd 2.3.1 in the NAT lab).
import type { Gateway } from '@achingbrain/nat-port-mapper'
import type { Logger } from '../../util/logger.ts'
import type { Timer, Timers } from '../../util/timers.ts'
import type { SelfAddresses } from '../self-addresses.ts'
import { formatAddress, parseAddress } from '../transport.ts'
import { firstLine } from '../../util/coded-error.ts'
import { ourLanAddresses, sameSubnet } from './lan-address.ts'

export const PortMappingState = { searching: 'searching', mapped: 'mapped', failed: 'failed', closed: 'closed' } as const
export type PortMappingState = typeof PortMappingState[keyof typeof PortMappingState]

/** The lease asked for: an hour, the shortest the library asks a UPnP gateway for whatever it is given. */
export const LEASE_SECONDS = 3600
/** Discovery and each request: a gateway on the LAN answers SSDP and SOAP within a second or two. */
const REQUEST_TIMEOUT_MS = 10_000
/** After a failure, tried again this much later (a router that booted after us, or restarted):
 * rarely, since every attempt multicasts on the LAN. */
export const RETRY_MS = 5 * 60_000
/** Removing the mapping at shutdown waits at most this long: an exit must not hang on a router. */
const CLOSE_TIMEOUT_MS = 3000

export interface PortMappingStatus {
  state: PortMappingState
  protocol: 'upnp-igd'
  /** The gateway's address on our LAN. */
  gateway: string | null
  /** Where peers reach us: the gateway's public address and the forwarded port. */
  externalAddress: string | null
  /** What the gateway forwards to: our LAN address and UDP port. */
  internalAddress: string | null
  leaseSeconds: number
  renewals: number
  failures: number
  lastError: string | null
}

export interface PortMappingComponents {
  timers: Timers
  log: Logger
  /** The mapped address is ours: peers that name it must not make us greet ourselves. */
  selves: SelfAddresses
  metrics?: { setPortMapped?(mapped: boolean): void }
  /** Our external address once mapped, null once the mapping is lost: peers are told (nat-traversal.ts). */
  onMapped?: (external: string | null) => void
  /** The gateway to ask; by default the first UPnP IGD that answers an SSDP search (tests inject one). */
  findGateway?: (signal: AbortSignal) => Promise<Gateway>
}

export interface PortMappingInit {
  /** Our UDP socket's address (a wildcard bind maps the LAN address on the gateway's subnet). */
  localAddress: string
  leaseSeconds?: number
  retryMs?: number
}

export class PortMapping {
  private current: PortMappingState = PortMappingState.searching
  private gateway: Gateway | null = null
  private timer: Timer | undefined
  /** An attempt is between its first request and its outcome: start() must not begin a second. */
  private attempting = false
  private readonly abort = new AbortController()
  private readonly info: Omit<PortMappingStatus, 'state' | 'protocol'>

  constructor(private readonly c: PortMappingComponents, private readonly init: PortMappingInit) {
    this.info = { gateway: null, externalAddress: null, internalAddress: null, leaseSeconds: init.leaseSeconds ?? LEASE_SECONDS, renewals: 0, failures: 0, lastError: null }
  }

  get state(): PortMappingState { return this.current }

  start(): void {
    if (this.current === PortMappingState.searching && this.timer === undefined && !this.attempting) void this.attempt()
  }

  status(): PortMappingStatus { return { state: this.current, protocol: 'upnp-igd', ...this.info } }

  /** Removes the mapping (bounded by CLOSE_TIMEOUT_MS) and stops the gateway client. Idempotent. */
  async close(): Promise<void> {
    if (this.current === PortMappingState.closed) return
    const wasMapped = this.current === PortMappingState.mapped
    this.setState(PortMappingState.closed)
    this.c.timers.clear(this.timer)
    this.abort.abort()
    const gw = this.gateway
    this.gateway = null
    if (!gw) return
    const signal = AbortSignal.timeout(CLOSE_TIMEOUT_MS)
    try {
      if (wasMapped) await removeUdpMapping(gw, parseAddress(this.info.externalAddress ?? '')?.port ?? 0, signal)
      await gw.stop({ signal })
      if (wasMapped) this.c.log.info(`port mapping removed at ${this.info.gateway}`, { externalAddress: this.info.externalAddress })
    } catch (err) {
      this.c.log.warn(`port mapping: could not remove it at ${this.info.gateway} (${oneLine(err)}); it lapses with its lease`)
    }
  }

  private async attempt(): Promise<void> {
    this.timer = undefined
    this.attempting = true
    try {
      await this.request()
    } finally {
      this.attempting = false
    }
  }

  /** A wait of minutes (a renewal at half the lease, a retry), cleared by close(): it must not hold
   * the process open if close() never runs. */
  private later(ms: number): void {
    this.timer = this.c.timers.setTimeout(() => void this.attempt(), ms, { background: true })
  }

  private async request(): Promise<void> {
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)])
    try {
      const port = parseAddress(this.init.localAddress)?.port
      if (port === undefined) throw new Error(`our address ${this.init.localAddress} has no port`)
      const gw = this.gateway ?? await (this.c.findGateway ?? findUpnpGateway)(signal)
      if (this.closed) return void gw.stop({ signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS) }).catch(() => {})
      this.gateway = gw
      const host = internalHost(this.init.localAddress, gw.host)
      const m = await gw.map(port, host, {
        protocol: 'udp', ttl: this.info.leaseSeconds * 1000, autoRefresh: false, description: 'cjp2p-stream', signal,
      })
      if (this.closed) {
        // Closed while the gateway was mapping: what it mapped must not outlive us either.
        const closing = AbortSignal.timeout(CLOSE_TIMEOUT_MS)
        return void removeUdpMapping(gw, m.externalPort, closing).then(() => gw.stop({ signal: closing })).catch(() => {})
      }
      const external = formatAddress(m.externalHost, m.externalPort)
      const renewal = this.current === PortMappingState.mapped && external === this.info.externalAddress
      // A renewal the gateway answered with another port (or host): peers and our self check follow
      // the new address (onMapped below), and the old one is not ours any more.
      if (!renewal && this.info.externalAddress !== null) this.c.selves.forget(this.info.externalAddress)
      Object.assign(this.info, { gateway: gw.host, externalAddress: external, internalAddress: formatAddress(m.internalHost, m.internalPort), lastError: null })
      if (renewal) this.info.renewals++
      this.c.selves.learn(external)
      if (!renewal) this.c.log.info(`port mapping: ${external} forwards to ${this.info.internalAddress} (UPnP IGD at ${gw.host})`)
      this.setState(PortMappingState.mapped)
      if (!renewal) this.c.onMapped?.(external)
      this.later(this.info.leaseSeconds * 500)
    } catch (err) {
      if (this.closed) return
      this.info.failures++
      this.info.lastError = this.abort.signal.aborted ? 'closed' : this.gateway ? oneLine(err) : `no UPnP gateway answered on the LAN (${oneLine(err)})`
      // The same failure again (every RETRY_MS) is not news: one line when it starts.
      const log = this.current === PortMappingState.failed ? this.c.log.debug : this.c.log.warn
      log.call(this.c.log, `port mapping failed: ${this.info.lastError}; going on without it, trying again in ${Math.round((this.init.retryMs ?? RETRY_MS) / 1000)} s`)
      // A gateway that refused or vanished is searched for afresh next time.
      const gw = this.gateway
      this.gateway = null
      void gw?.stop({ signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS) }).catch(() => {})
      // The lost address stays in selves: the gateway may forward it until its lease lapses.
      if (this.info.externalAddress !== null) this.c.onMapped?.(null)
      this.info.externalAddress = null
      this.setState(PortMappingState.failed)
      this.later(this.init.retryMs ?? RETRY_MS)
    }
  }

  /** A getter, so that TypeScript does not narrow the state across the awaits above. */
  private get closed(): boolean { return this.current === PortMappingState.closed }

  private setState(next: PortMappingState): void {
    if (next === this.current) return
    this.c.log.debug(`port mapping ${this.current} -> ${next}`)
    this.current = next
    this.c.metrics?.setPortMapped?.(next === PortMappingState.mapped)
  }
}

async function findUpnpGateway(signal: AbortSignal): Promise<Gateway> {
  // Loaded here: only a node run with --port-mapping pays for the library (SSDP, SOAP, XML).
  const { upnpNat } = await import('@achingbrain/nat-port-mapper')
  for await (const gw of upnpNat({ autoRefresh: false }).findGateways({ signal })) return gw
  throw new Error('the search ended')
}

const WAN_IP_CONNECTION_2 = 'urn:schemas-upnp-org:service:WANIPConnection:2'
interface SoapGateway { getGateway(o: { signal: AbortSignal }): Promise<{ run(service: string, action: string, args: Array<[string, string | number]>, o: { signal: AbortSignal }): Promise<unknown> }> }

/** The library's unmap sends DeletePortMapping with an empty NewProtocol (the UPnP spec wants TCP or
 * UDP); miniupnpd 2.3.1 answers it with success and keeps our UDP rule (seen in the lab test). So the
 * removal goes with UDP through the library's own SOAP client, or through unmap where it has none. */
async function removeUdpMapping(gw: Gateway, externalPort: number, signal: AbortSignal): Promise<void> {
  const soap = gw as Partial<SoapGateway>
  if (typeof soap.getGateway !== 'function') return gw.unmap(externalPort, { signal })
  const device = await soap.getGateway({ signal })
  await device.run(WAN_IP_CONNECTION_2, 'DeletePortMapping', [['NewRemoteHost', ''], ['NewExternalPort', externalPort], ['NewProtocol', 'UDP']], { signal })
}

/** Our LAN address the gateway forwards to: the one on its subnet (a wildcard bind has several). */
export function internalHost(localAddress: string, gatewayHost: string): string {
  const lan = ourLanAddresses(localAddress)
  const pick = lan.find((a) => sameSubnet(a, formatAddress(gatewayHost, 1))) ?? lan[0]
  const host = pick === undefined ? undefined : parseAddress(pick)?.host
  if (host === undefined) throw new Error(`no LAN address of ours to forward to (bound to ${localAddress})`)
  return host
}

function oneLine(err: unknown): string {
  const e = err as { name?: string; message?: string }
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`
  return firstLine(err)
}
