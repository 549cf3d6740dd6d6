// A PCP (RFC 6887) MAP client for our one UDP port. The nonce is drawn once per PortMapping (passed
// in, so that a mapper made after a failed renewal still owns the old mapping) and repeated by every
// renewal and by the deletion: the server accepts neither from anyone who does not know it
// (section 11.2), so another host on the LAN cannot renew or remove our mapping. A reply counts
// only if it names our nonce, UDP and our internal port (section 11.3); a NAT-PMP-only gateway
// answers with NAT-PMP's UNSUPP_VERSION, which makes port-mapping.ts fall back to NAT-PMP.
import { randomBytes } from 'node:crypto'
import { formatAddress } from '../transport.ts'
import { EpochWatch } from './gateway-epoch.ts'
import type { GatewayMapper, MappedPort } from './gateway-mapper.ts'
import { GatewayError, type Accept, type GatewayExchange } from './gateway-socket.ts'
import { NatPmpResult, decodeNatPmpReply } from './nat-pmp-codec.ts'
import { IPPROTO_UDP, PcpOpcode, PcpResult, decodePcpReply, encodePcpAnnounce, encodePcpMap, pcpResultName, type PcpReply } from './pcp-codec.ts'
import type { Timers } from '../../util/timers.ts'

/** Section 8.1.1: the initial retransmission time, and RAND's +-10 %. */
const PCP_IRT_MS = 3000
const PCP_JITTER = 0.1

type MapReply = Extract<PcpReply, { opcode: typeof PcpOpcode.map }>

export interface PcpMapperComponents { timers: Timers; exchange: GatewayExchange; nonce?: Uint8Array }
export interface PcpMapperInit { clientIp: string; internalPort: number; lifetimeSeconds: number }

export class PcpMapper implements GatewayMapper {
  readonly protocol = 'pcp' as const
  readonly gateway: string
  private readonly nonce: Uint8Array
  private readonly epoch = new EpochWatch()
  private held: { port: number; ip: string } | null = null

  constructor(private readonly c: PcpMapperComponents, private readonly init: PcpMapperInit) {
    this.gateway = c.exchange.gateway
    this.nonce = c.nonce ?? randomBytes(12)
  }

  async map(signal: AbortSignal): Promise<MappedPort> {
    const r = await this.send(this.init.lifetimeSeconds, signal)
    if (r.result !== PcpResult.SUCCESS) throw refusal(r)
    if (r.lifetime === 0 || r.externalPort === 0) throw new GatewayError('REFUSED', `PCP MAP success without a mapping (lifetime ${r.lifetime}, port ${r.externalPort})`)
    const restarted = this.epoch.observe(r.epoch, this.c.timers.now())
    this.held = { port: r.externalPort, ip: r.externalIp }
    return {
      external: formatAddress(r.externalIp, r.externalPort), internal: formatAddress(this.init.clientIp, this.init.internalPort),
      lifetimeSeconds: r.lifetime, gatewayRestarted: restarted,
    }
  }

  /** Section 15: the same MAP with lifetime 0. */
  async unmap(signal: AbortSignal): Promise<void> {
    const r = await this.send(0, signal)
    if (r.result !== PcpResult.SUCCESS) throw refusal(r)
    this.held = null
  }

  async checkEpoch(signal: AbortSignal): Promise<boolean> {
    const r = await this.c.exchange.request(encodePcpAnnounce(this.init.clientIp), (buf): Accept<PcpReply> => {
      const d = decodePcpReply(buf)
      if (!d.ok) return { ignore: d.reason }
      if (d.value.opcode !== PcpOpcode.announce) return { ignore: `PCP opcode ${d.value.opcode} to our ANNOUNCE` }
      return { value: d.value }
    }, { initialMs: PCP_IRT_MS, jitter: PCP_JITTER, signal })
    return this.epoch.observe(r.epoch, this.c.timers.now())
  }

  stop(): void { this.c.exchange.close() }

  private send(lifetime: number, signal: AbortSignal): Promise<MapReply> {
    const req = encodePcpMap({
      nonce: this.nonce, clientIp: this.init.clientIp, internalPort: this.init.internalPort, lifetime,
      // A renewal asks for what it holds (section 11.2.1); a first request has no preference.
      externalPort: this.held?.port, externalIp: this.held?.ip,
    })
    return this.c.exchange.request(req, (buf) => this.accept(buf), { initialMs: PCP_IRT_MS, jitter: PCP_JITTER, signal })
  }

  private accept(buf: Buffer): Accept<MapReply> {
    const d = decodePcpReply(buf)
    if (!d.ok) {
      // RFC 6887 section 9: a NAT-PMP server answers our version 2 in its own format.
      // Eight bytes, no nonce to check (RFC 6886 section 3.5): a LAN host spoofing the gateway can so
      // turn us from PCP to NAT-PMP, whose mappings any LAN host may renew or delete; it cannot touch
      // a PCP mapping we hold, which takes the nonce.
      const pmp = decodeNatPmpReply(buf)
      if (pmp.ok && pmp.value.result === NatPmpResult.UNSUPP_VERSION) return { fail: new GatewayError('UNSUPP_VERSION', `${this.gateway} speaks NAT-PMP, not PCP`) }
      return { ignore: d.reason }
    }
    const r = d.value
    if (r.opcode !== PcpOpcode.map) return { ignore: `PCP opcode ${r.opcode} to our MAP` }
    if (r.result === PcpResult.UNSUPP_VERSION) return { fail: new GatewayError('UNSUPP_VERSION', `${this.gateway} does not speak PCP version 2`) }
    // An error reply without its payload (a server may send one for a request it could not parse)
    // cannot be matched to a request: taken as ours, the only one in flight. A LAN host that spoofs the gateway can so fail one request of
    // ours (the node retries later); it can neither renew, move nor delete our mapping, which takes
    // the nonce.
    if (r.nonce.length === 0) return { value: r }
    if (!Buffer.from(r.nonce).equals(Buffer.from(this.nonce))) return { ignore: 'PCP MAP reply for another nonce' }
    if (r.protocol !== IPPROTO_UDP || r.internalPort !== this.init.internalPort) return { ignore: `PCP MAP reply for protocol ${r.protocol} port ${r.internalPort}` }
    return { value: r }
  }
}

function refusal(r: MapReply): GatewayError {
  return new GatewayError('REFUSED', `PCP ${pcpResultName(r.result)}`)
}
