// UPnP IGD through @achingbrain/nat-port-mapper: an SSDP search (multicast to 239.255.255.250:1900
// on the LAN) finds the Internet Gateway Device, AddAnyPortMapping (IGD v2) maps our port, and
// DeletePortMapping removes it. No epoch: a restarted UPnP gateway is found out at the renewal.
import type { Gateway } from '@achingbrain/nat-port-mapper'
import { formatAddress } from '../transport.ts'
import type { GatewayMapper, MappedPort } from './gateway-mapper.ts'
import { internalHost } from './lan-address.ts'

/** Stopping the library's client must not hang an exit. */
const STOP_TIMEOUT_MS = 3000

export interface UpnpMapperInit { localAddress: string; internalPort: number; lifetimeSeconds: number }

export class UpnpMapper implements GatewayMapper {
  readonly protocol = 'upnp-igd' as const
  readonly gateway: string
  private externalPort = 0
  private stopped = false

  constructor(private readonly gw: Gateway, private readonly init: UpnpMapperInit) {
    this.gateway = gw.host
  }

  async map(signal: AbortSignal): Promise<MappedPort> {
    const host = internalHost(this.init.localAddress, this.gw.host)
    const m = await this.gw.map(this.init.internalPort, host, {
      protocol: 'udp', ttl: this.init.lifetimeSeconds * 1000, autoRefresh: false, description: 'cjp2p-stream', signal,
    })
    this.externalPort = m.externalPort
    return {
      external: formatAddress(m.externalHost, m.externalPort), internal: formatAddress(m.internalHost, m.internalPort),
      lifetimeSeconds: this.init.lifetimeSeconds, gatewayRestarted: false,
    }
  }

  async unmap(signal: AbortSignal): Promise<void> {
    await removeUdpMapping(this.gw, this.externalPort, signal)
  }

  stop(): void {
    if (this.stopped) return
    this.stopped = true
    void this.gw.stop({ signal: AbortSignal.timeout(STOP_TIMEOUT_MS) }).catch(() => {})
  }
}

export async function findUpnpGateway(signal: AbortSignal): Promise<Gateway> {
  // Loaded here: only a node that falls back to UPnP pays for the library (SSDP, SOAP, XML).
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
