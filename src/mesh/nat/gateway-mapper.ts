// What port-mapping.ts asks of each protocol's client (pcp-mapper.ts, nat-pmp-mapper.ts,
// upnp-mapper.ts): map our UDP port (again, at a renewal), remove it, and for PCP and NAT-PMP, ask
// the gateway's epoch between renewals to learn that it restarted and lost the mapping.

export const MappingProtocol = { pcp: 'pcp', natPmp: 'nat-pmp', upnpIgd: 'upnp-igd' } as const
export type MappingProtocol = typeof MappingProtocol[keyof typeof MappingProtocol]
/** How logs and `status` name them. */
export const PROTOCOL_NAMES: Record<MappingProtocol, string> = { pcp: 'PCP', 'nat-pmp': 'NAT-PMP', 'upnp-igd': 'UPnP IGD' }
/** Tried in this order (docs/NAT-LAB.md "Port mapping" says why); every protocol, so also the
 * values of cjp2p_port_mapped{protocol} (src/metrics/definitions.ts). */
export const DEFAULT_PROTOCOLS: readonly MappingProtocol[] = [MappingProtocol.pcp, MappingProtocol.natPmp, MappingProtocol.upnpIgd]

export interface MappedPort {
  /** Where peers reach us: the gateway's public address and the port it forwards. */
  external: string
  /** What it forwards to: our LAN address and UDP port. */
  internal: string
  /** What the gateway granted, which may be less than we asked for. */
  lifetimeSeconds: number
  /** The reply's epoch said the gateway restarted since its previous reply (PCP, NAT-PMP). */
  gatewayRestarted: boolean
}

export interface GatewayMapper {
  readonly protocol: MappingProtocol
  /** The gateway's address on our LAN. */
  readonly gateway: string
  /** Creates the mapping, or renews the one this mapper made. */
  map(signal: AbortSignal): Promise<MappedPort>
  /** Removes the mapping this mapper made. */
  unmap(signal: AbortSignal): Promise<void>
  /** A cheap request whose reply carries the gateway's epoch: true if the gateway restarted. */
  checkEpoch?(signal: AbortSignal): Promise<boolean>
  /** Releases the socket or client. Idempotent. */
  stop(): void
}
