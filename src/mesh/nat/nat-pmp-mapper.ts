// A NAT-PMP (RFC 6886) client for our one UDP port: the gateway's public address (opcode 0, which a
// mapping reply does not carry), then the UDP mapping (opcode 1) with its lifetime in seconds, and
// its deletion with lifetime 0 (section 3.4). The gateway maps the request's source address, so the
// socket is bound to our LAN address (gateway-socket.ts).
import { formatAddress } from '../transport.ts'
import { EpochWatch } from './gateway-epoch.ts'
import type { GatewayMapper, MappedPort } from './gateway-mapper.ts'
import { GatewayError, type Accept, type GatewayExchange } from './gateway-socket.ts'
import {
  NatPmpOpcode, NatPmpResult, decodeNatPmpReply, encodeNatPmpExternalAddress, encodeNatPmpMap, natPmpResultName, type NatPmpReply,
} from './nat-pmp-codec.ts'
import type { Timers } from '../../util/timers.ts'

/** Section 3.1: the first retransmission after 250 ms, doubling. */
const NAT_PMP_IRT_MS = 250

type AddressReply = Extract<NatPmpReply, { opcode: typeof NatPmpOpcode.externalAddress; externalIp: string }>
type MapReply = Extract<NatPmpReply, { opcode: typeof NatPmpOpcode.mapUdp; lifetime: number }>

export interface NatPmpMapperComponents { timers: Timers; exchange: GatewayExchange }
export interface NatPmpMapperInit { internalHost: string; internalPort: number; lifetimeSeconds: number }

export class NatPmpMapper implements GatewayMapper {
  readonly protocol = 'nat-pmp' as const
  readonly gateway: string
  private readonly epoch = new EpochWatch()
  private heldPort = 0
  private externalIp: string | null = null

  constructor(private readonly c: NatPmpMapperComponents, private readonly init: NatPmpMapperInit) {
    this.gateway = c.exchange.gateway
  }

  async map(signal: AbortSignal): Promise<MappedPort> {
    const a = await this.address(signal)
    let restarted = this.epoch.observe(a.epoch, this.c.timers.now())
    // A renewal asks for the port it holds; a first request for our own port, which a
    // port-preserving NAT then forwards where our traffic leaves from anyway.
    // accept() fails every reply that is not a success: what comes back here mapped.
    const r = await this.send(this.heldPort || this.init.internalPort, this.init.lifetimeSeconds, signal)
    if (r.lifetime === 0 || r.externalPort === 0) throw new GatewayError('REFUSED', `NAT-PMP success without a mapping (lifetime ${r.lifetime}, port ${r.externalPort})`)
    restarted = this.epoch.observe(r.epoch, this.c.timers.now()) || restarted
    this.heldPort = r.externalPort
    this.externalIp = a.externalIp
    return {
      external: formatAddress(a.externalIp, r.externalPort), internal: formatAddress(this.init.internalHost, this.init.internalPort),
      lifetimeSeconds: r.lifetime, gatewayRestarted: restarted,
    }
  }

  /** Section 3.4: lifetime 0 and external port 0 remove our mapping of the internal port. */
  async unmap(signal: AbortSignal): Promise<void> {
    await this.send(0, 0, signal)
    this.heldPort = 0
  }

  /** The external-address request: its epoch, and a public address that changed, tell a restart. */
  async checkEpoch(signal: AbortSignal): Promise<boolean> {
    const a = await this.address(signal)
    const restarted = this.epoch.observe(a.epoch, this.c.timers.now())
    return restarted || (this.externalIp !== null && a.externalIp !== this.externalIp)
  }

  stop(): void { this.c.exchange.close() }

  private async address(signal: AbortSignal): Promise<AddressReply> {
    const a = await this.c.exchange.request(encodeNatPmpExternalAddress(), (buf): Accept<NatPmpReply> => this.accept(buf, NatPmpOpcode.externalAddress), { initialMs: NAT_PMP_IRT_MS, signal })
    // A success, as accept() took it, carries its address (the decoder refuses a short one): this
    // only narrows the type.
    if (!('externalIp' in a)) throw refusal(a.result)
    return a as AddressReply
  }

  private send(externalPort: number, lifetime: number, signal: AbortSignal): Promise<MapReply> {
    const req = encodeNatPmpMap({ internalPort: this.init.internalPort, externalPort, lifetime })
    return this.c.exchange.request(req, (buf) => {
      const a = this.accept(buf, NatPmpOpcode.mapUdp)
      if ('value' in a && 'internalPort' in a.value && a.value.internalPort !== this.init.internalPort) return { ignore: `NAT-PMP reply for port ${a.value.internalPort}` }
      return a
    }, { initialMs: NAT_PMP_IRT_MS, signal }) as Promise<MapReply>
  }

  private accept(buf: Buffer, opcode: number): Accept<NatPmpReply> {
    const d = decodeNatPmpReply(buf)
    if (!d.ok) return { ignore: d.reason }
    if (d.value.opcode !== opcode) return { ignore: `NAT-PMP opcode ${d.value.opcode} to our ${opcode}` }
    if (d.value.result === NatPmpResult.UNSUPP_VERSION) return { fail: new GatewayError('UNSUPP_VERSION', `${this.gateway} does not speak NAT-PMP`) }
    if (d.value.result !== NatPmpResult.SUCCESS) return { fail: refusal(d.value.result) }
    return { value: d.value }
  }
}

function refusal(result: number): GatewayError {
  return new GatewayError('REFUSED', `NAT-PMP ${natPmpResultName(result)}`)
}
