// Port mapping at the home router, behind --port-mapping: the node asks its gateway to forward its
// UDP port, so that peers it never contacted reach it as if it had no NAT. The mapping is renewed at
// half the lifetime the gateway granted and removed at a clean shutdown.
//
// Protocols, tried in order until one maps (--port-mapping-protocols narrows or reorders them):
// - PCP (RFC 6887, pcp-mapper.ts), unicast to the default gateway: the current standard, and the
//   only one with a nonce that keeps other LAN hosts from renewing or deleting our mapping.
// - NAT-PMP (RFC 6886, nat-pmp-mapper.ts), same port, only when the gateway answered PCP with
//   UNSUPP_VERSION: a gateway that was silent on PCP's port is silent on NAT-PMP's (the same one).
// - UPnP IGD (upnp-mapper.ts) last: it multicasts an SSDP search to the whole LAN, and gateways that
//   speak it often speak one of the others too.
// Between renewals an ANNOUNCE (PCP) or external-address request (NAT-PMP) every EPOCH_CHECK_MS
// reads the gateway's epoch: one that went back means the gateway restarted and forgot us, and we
// map again at once instead of at the next renewal (gateway-epoch.ts).
//
// Off by default: a mapping opens the port to the whole Internet, and UPnP's search multicasts.
// Failure (no gateway, a refusal) is one log line; the node goes on without, and tries again later.
import { randomBytes } from 'node:crypto'
import type { Gateway } from '@achingbrain/nat-port-mapper'
import type { Logger } from '../../util/logger.ts'
import type { Timer, Timers } from '../../util/timers.ts'
import type { SelfAddresses } from '../self-addresses.ts'
import { parseAddress } from '../transport.ts'
import { firstLine } from '../../util/coded-error.ts'
import { defaultGateway } from './default-gateway.ts'
import { DEFAULT_PROTOCOLS, MappingProtocol, PROTOCOL_NAMES, type GatewayMapper, type MappedPort } from './gateway-mapper.ts'
import { GatewayError, GatewayExchange, openGatewaySocket, REQUEST_TIMEOUT_MS, type OpenGatewaySocket } from './gateway-socket.ts'
import { internalHost } from './lan-address.ts'
import { NatPmpMapper } from './nat-pmp-mapper.ts'
import { PCP_SERVER_PORT } from './pcp-codec.ts'
import { PcpMapper } from './pcp-mapper.ts'
import { UpnpMapper, findUpnpGateway } from './upnp-mapper.ts'

export const PortMappingState = { searching: 'searching', mapped: 'mapped', failed: 'failed', closed: 'closed' } as const
export type PortMappingState = typeof PortMappingState[keyof typeof PortMappingState]
export { MappingProtocol }

/** The lifetime asked for: an hour, the shortest the UPnP library asks a gateway for whatever it is given. */
export const LEASE_SECONDS = 3600
/** After a failure, tried again this much later (a router that booted after us, or restarted):
 * rarely, since an attempt that reaches UPnP multicasts on the LAN. */
export const RETRY_MS = 5 * 60_000
/** How often the gateway's epoch is read between renewals: a restarted gateway costs us at most
 * this long unreachable instead of half a lease; one small datagram to the gateway a minute. */
export const EPOCH_CHECK_MS = 60_000
/** A gateway that grants seconds must not make us send a request every tick. */
const MIN_RENEW_MS = 10_000
/** Removing the mapping at shutdown waits at most this long: an exit must not hang on a router. */
const CLOSE_TIMEOUT_MS = 3000

export interface PortMappingStatus {
  state: PortMappingState
  /** The protocol of the mapping we hold, null while we hold none. */
  protocol: MappingProtocol | null
  /** What is tried, in order. */
  protocols: MappingProtocol[]
  /** The gateway's address on our LAN. */
  gateway: string | null
  /** Where peers reach us: the gateway's public address and the forwarded port. */
  externalAddress: string | null
  /** What the gateway forwards to: our LAN address and UDP port. */
  internalAddress: string | null
  /** What the gateway granted (asked: LEASE_SECONDS). */
  leaseSeconds: number
  renewals: number
  /** Restarts of the gateway seen in its epoch (PCP, NAT-PMP), each followed by a new mapping. */
  gatewayRestarts: number
  failures: number
  lastError: string | null
}

export interface PortMappingComponents {
  timers: Timers
  log: Logger
  /** The mapped address is ours: peers that name it must not make us greet ourselves. */
  selves: SelfAddresses
  /** The protocol that holds our mapping now, null for none (cjp2p_port_mapped{protocol}). */
  metrics?: { setPortMapped?(protocol: MappingProtocol | null): void }
  /** Our external address once mapped, null once the mapping is lost: peers are told (nat-traversal.ts). */
  onMapped?: (external: string | null) => void
  /** The UPnP gateway to ask; by default the first IGD that answers an SSDP search (tests inject one). */
  findGateway?: (signal: AbortSignal) => Promise<Gateway>
  /** The socket to the PCP / NAT-PMP server (tests inject one on loopback). */
  openSocket?: OpenGatewaySocket
  /** Where PCP and NAT-PMP go without --port-mapping-gateway: /proc/net/route's default route. */
  defaultGateway?: () => Promise<string | null>
}

export interface PortMappingInit {
  /** Our UDP socket's address (a wildcard bind maps the LAN address on the gateway's subnet). */
  localAddress: string
  leaseSeconds?: number
  retryMs?: number
  epochCheckMs?: number
  protocols?: readonly MappingProtocol[]
  /** --port-mapping-gateway: the PCP / NAT-PMP server, instead of the default route's gateway. */
  gateway?: string
  /** The server's port: 5351 (tests run their gateway on another). */
  gatewayPort?: number
}

export class PortMapping {
  private current: PortMappingState = PortMappingState.searching
  private mapper: GatewayMapper | null = null
  private timer: Timer | undefined
  private renewAt = 0
  /** An attempt is between its first request and its outcome: start() must not begin a second. */
  private attempting = false
  private readonly abort = new AbortController()
  /** PCP's nonce, one for the life of this object: a gateway answers a new nonce for our old mapping
   * with NOT_AUTHORIZED (RFC 6887 section 11.3), so a mapper after a failed renewal must repeat it. */
  private readonly pcpNonce = randomBytes(12)
  /** The last mapping a gateway granted and until when it may hold, while no mapper holds it (after
   * a failure): close() still removes it, not to leave our port open after we exit. */
  private granted: { protocol: MappingProtocol; until: number } | null = null
  private readonly protocols: MappingProtocol[]
  /** What we ask a gateway for, always (what it granted is remote input, up to 2^32 - 1 s). */
  private readonly lease: number
  private readonly retryMs: number
  private readonly info: Omit<PortMappingStatus, 'state' | 'protocol' | 'protocols'>

  constructor(private readonly c: PortMappingComponents, private readonly init: PortMappingInit) {
    this.protocols = [...(init.protocols ?? DEFAULT_PROTOCOLS)]
    this.lease = init.leaseSeconds ?? LEASE_SECONDS
    this.retryMs = init.retryMs ?? RETRY_MS
    this.info = {
      gateway: null, externalAddress: null, internalAddress: null, leaseSeconds: this.lease,
      renewals: 0, gatewayRestarts: 0, failures: 0, lastError: null,
    }
  }

  get state(): PortMappingState { return this.current }

  start(): void {
    if (this.current === PortMappingState.searching && this.timer === undefined && !this.attempting) void this.attempt()
  }

  status(): PortMappingStatus {
    const held = this.current === PortMappingState.mapped ? this.mapper?.protocol ?? null : null
    return { state: this.current, protocol: held, protocols: [...this.protocols], ...this.info }
  }

  /** Removes the mapping (bounded by CLOSE_TIMEOUT_MS) and releases the gateway client. Idempotent. */
  async close(): Promise<void> {
    if (this.current === PortMappingState.closed) return
    const wasMapped = this.current === PortMappingState.mapped
    this.setState(PortMappingState.closed)
    this.c.timers.clear(this.timer)
    this.abort.abort()
    const mapper = this.mapper
    this.mapper = null
    if (!mapper) return this.removeLost()
    try {
      if (wasMapped) {
        await mapper.unmap(AbortSignal.timeout(CLOSE_TIMEOUT_MS))
        this.c.log.info(`port mapping removed at ${mapper.gateway} (${PROTOCOL_NAMES[mapper.protocol]})`, { externalAddress: this.info.externalAddress })
      }
    } catch (err) {
      this.c.log.warn(`port mapping: could not remove it at ${mapper.gateway} (${oneLine(err)}); it lapses with its lease`)
    } finally {
      mapper.stop()
    }
  }

  /** At close after a failure: the mapping the gateway may still hold, removed through a new mapper
   * (PCP with our nonce; NAT-PMP by port). UPnP's lapses with its lease: its client is gone. */
  private async removeLost(): Promise<void> {
    const g = this.granted
    if (!g || g.protocol === MappingProtocol.upnpIgd || this.c.timers.now() >= g.until) return
    let mapper: GatewayMapper | null = null
    try {
      mapper = await this.open(g.protocol)
      await mapper.unmap(AbortSignal.timeout(CLOSE_TIMEOUT_MS))
      this.c.log.info(`port mapping removed at ${mapper.gateway} (${PROTOCOL_NAMES[g.protocol]}, after a failed renewal)`)
    } catch (err) {
      this.c.log.debug(`port mapping: could not remove the lost mapping (${oneLine(err)}); it lapses with its lease`)
    } finally {
      mapper?.stop()
    }
  }

  private async attempt(): Promise<void> {
    this.timer = undefined
    this.attempting = true
    try {
      const mapper = this.mapper
      if (mapper?.checkEpoch && this.current === PortMappingState.mapped && this.c.timers.now() < this.renewAt) await this.checkEpoch(mapper, mapper.checkEpoch.bind(mapper))
      else await this.request()
    } finally {
      this.attempting = false
    }
  }

  /** A wait of minutes (a renewal, an epoch check, a retry), cleared by close(): it must not hold
   * the process open if close() never runs. */
  private later(ms: number): void {
    this.timer = this.c.timers.setTimeout(() => void this.attempt(), ms, { background: true })
  }

  private async checkEpoch(mapper: GatewayMapper, check: (signal: AbortSignal) => Promise<boolean>): Promise<void> {
    let restarted = false
    try {
      restarted = await check(this.abort.signal)
    } catch (err) {
      // The renewal decides whether the mapping is gone; one missed check is not news.
      if (this.closed) return
      this.c.log.debug(`port mapping: epoch check at ${mapper.gateway} failed (${oneLine(err)})`)
    }
    if (this.closed) return
    if (!restarted) return this.schedule()
    this.info.gatewayRestarts++
    this.c.log.info(`port mapping: the gateway at ${mapper.gateway} restarted (its epoch says so); mapping again`)
    await this.request()
  }

  private async request(): Promise<void> {
    try {
      const renewing = this.mapper
      if (renewing) {
        const m = await this.mapOnce(renewing)
        if (this.closed) return
        if (m.gatewayRestarted) {
          this.info.gatewayRestarts++
          this.c.log.info(`port mapping: the gateway at ${renewing.gateway} restarted (its epoch says so); mapped again`)
        }
        return this.mapped(renewing, m)
      }
      await this.search()
    } catch (err) {
      if (this.closed) return
      this.failed(err)
    }
  }

  /** Each protocol in turn until one maps; throws what each said. */
  private async search(): Promise<void> {
    const said: string[] = []
    let skipNatPmp = false
    for (const protocol of this.protocols) {
      if (protocol === MappingProtocol.natPmp && skipNatPmp) continue
      let mapper: GatewayMapper | null = null
      try {
        mapper = await this.open(protocol)
        if (this.closed) return mapper.stop()
        const m = await this.mapOnce(mapper)
        if (this.closed) {
          // Closed while the gateway was mapping: what it mapped must not outlive us either.
          const held = mapper
          return void held.unmap(AbortSignal.timeout(CLOSE_TIMEOUT_MS)).catch(() => {}).finally(() => held.stop())
        }
        this.mapper = mapper
        return this.mapped(mapper, m)
      } catch (err) {
        mapper?.stop()
        if (this.closed) return
        // Only a gateway that answered PCP in NAT-PMP's words speaks NAT-PMP: a silent or refusing
        // one would say the same on the same port.
        if (protocol === MappingProtocol.pcp) skipNatPmp = !(err instanceof GatewayError && err.code === 'UNSUPP_VERSION')
        said.push(`${PROTOCOL_NAMES[protocol]}: ${oneLine(err)}`)
        this.c.log.debug(`port mapping: ${PROTOCOL_NAMES[protocol]} did not map (${oneLine(err)})`)
      }
    }
    throw new Error(said.join('; '))
  }

  private async open(protocol: MappingProtocol): Promise<GatewayMapper> {
    const port = parseAddress(this.init.localAddress)?.port
    if (port === undefined) throw new Error(`our address ${this.init.localAddress} has no port`)
    // What we ask, always: info.leaseSeconds is what a gateway granted.
    const lifetimeSeconds = this.lease
    if (protocol === MappingProtocol.upnpIgd) {
      try {
        const gw = await this.bounded((signal) => (this.c.findGateway ?? findUpnpGateway)(signal))
        return new UpnpMapper(gw, { localAddress: this.init.localAddress, internalPort: port, lifetimeSeconds })
      } catch (err) {
        throw new Error(`no UPnP gateway answered on the LAN (${oneLine(err)})`, { cause: err })
      }
    }
    const gateway = this.init.gateway ?? await (this.c.defaultGateway ?? defaultGateway)()
    if (!gateway) throw new GatewayError('NO_GATEWAY', 'no default gateway in /proc/net/route (--port-mapping-gateway names one)')
    const host = internalHost(this.init.localAddress, gateway)
    const sock = await (this.c.openSocket ?? openGatewaySocket)(gateway, this.init.gatewayPort ?? PCP_SERVER_PORT, host)
    const exchange = new GatewayExchange({ timers: this.c.timers, log: this.c.log }, sock, gateway)
    return protocol === MappingProtocol.pcp
      ? new PcpMapper({ timers: this.c.timers, exchange, nonce: this.pcpNonce }, { clientIp: host, internalPort: port, lifetimeSeconds })
      : new NatPmpMapper({ timers: this.c.timers, exchange }, { internalHost: host, internalPort: port, lifetimeSeconds })
  }

  /** PCP and NAT-PMP requests carry their own bound (gateway-socket.ts); a UPnP one is SSDP and SOAP
   * inside a library, bounded here: a lost reply at a renewal must fail it, not leave the attempt
   * (and the state `mapped`) hanging past the lease. */
  private mapOnce(mapper: GatewayMapper): Promise<MappedPort> {
    return mapper.protocol === MappingProtocol.upnpIgd ? this.bounded((signal) => mapper.map(signal)) : mapper.map(this.abort.signal)
  }

  /** `run` with a signal that aborts at close() or after REQUEST_TIMEOUT_MS on our timers; settles
   * then even if `run` ignores its signal. */
  private async bounded<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const timeout = new AbortController()
    const signal = AbortSignal.any([this.abort.signal, timeout.signal])
    let timer: Timer | undefined
    let onAbort = (): void => {}
    try {
      return await new Promise<T>((resolve, reject) => {
        onAbort = () => reject(signal.reason)
        signal.addEventListener('abort', onAbort, { once: true })
        timer = this.c.timers.setTimeout(() => timeout.abort(new GatewayError('NO_ANSWER', `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)), REQUEST_TIMEOUT_MS, { background: true })
        if (signal.aborted) return onAbort()
        run(signal).then(resolve, reject)
      })
    } finally {
      this.c.timers.clear(timer)
      signal.removeEventListener('abort', onAbort)
    }
  }

  private mapped(mapper: GatewayMapper, m: MappedPort): void {
    const external = m.external
    const renewal = this.current === PortMappingState.mapped && external === this.info.externalAddress
    // A renewal the gateway answered with another port (or host): peers and our self check follow
    // the new address (onMapped below), and the old one is not ours any more.
    if (!renewal && this.info.externalAddress !== null) this.c.selves.forget(this.info.externalAddress)
    Object.assign(this.info, { gateway: mapper.gateway, externalAddress: external, internalAddress: m.internal, leaseSeconds: m.lifetimeSeconds, lastError: null })
    if (renewal) this.info.renewals++
    this.granted = { protocol: mapper.protocol, until: this.c.timers.now() + m.lifetimeSeconds * 1000 }
    this.c.selves.learn(external)
    if (!renewal) this.c.log.info(`port mapping: ${external} forwards to ${m.internal} (${PROTOCOL_NAMES[mapper.protocol]} at ${mapper.gateway}, ${m.lifetimeSeconds} s)`)
    this.setState(PortMappingState.mapped)
    if (!renewal) this.c.onMapped?.(external)
    // Half of what was granted, but never later than half of what we asked: a gateway's lifetime is
    // remote input (up to 2^32 s), and a timer past 2^31 ms would fire at once.
    const granted = Math.min(m.lifetimeSeconds, this.lease)
    this.renewAt = this.c.timers.now() + Math.max(MIN_RENEW_MS, granted * 500)
    this.schedule()
  }

  /** The next renewal, or an epoch check before it where the protocol has one. */
  private schedule(): void {
    const toRenewal = Math.max(0, this.renewAt - this.c.timers.now())
    const check = this.mapper?.checkEpoch ? this.init.epochCheckMs ?? EPOCH_CHECK_MS : Infinity
    this.later(Math.min(toRenewal, check))
  }

  private failed(err: unknown): void {
    this.info.failures++
    this.info.lastError = oneLine(err)
    // The same failure again (every RETRY_MS) is not news: one line when it starts.
    const log = this.current === PortMappingState.failed ? this.c.log.debug : this.c.log.warn
    log.call(this.c.log, `port mapping failed: ${this.info.lastError}; going on without it, trying again in ${Math.round(this.retryMs / 1000)} s`)
    // A gateway that refused or vanished is searched for afresh next time, from the first protocol.
    this.mapper?.stop()
    this.mapper = null
    // The lost address stays in selves: the gateway may forward it until its lease lapses.
    if (this.info.externalAddress !== null) this.c.onMapped?.(null)
    this.info.externalAddress = null
    this.setState(PortMappingState.failed)
    this.later(this.retryMs)
  }

  /** A getter, so that TypeScript does not narrow the state across the awaits above. */
  private get closed(): boolean { return this.current === PortMappingState.closed }

  private setState(next: PortMappingState): void {
    if (next === this.current) return
    this.c.log.debug(`port mapping ${this.current} -> ${next}`)
    this.current = next
    this.c.metrics?.setPortMapped?.(next === PortMappingState.mapped ? this.mapper?.protocol ?? null : null)
  }
}

function oneLine(err: unknown): string {
  const e = err as { name?: string; message?: string }
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`
  return firstLine(err)
}
