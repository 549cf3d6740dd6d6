// Addresses of a home or office LAN (RFC 1918, and IPv6 unique-local): the only ones a node tells
// its peers as its own "host candidate" (lan-mates.ts). A public address never qualifies, so a
// peer cannot use the field to make an introducer greet a host on the Internet.
import { BlockList, isIP } from 'node:net'
import { networkInterfaces } from 'node:os'
import { formatAddress, parseAddress } from '../transport.ts'

const LAN = new BlockList()
LAN.addSubnet('10.0.0.0', 8, 'ipv4')
LAN.addSubnet('172.16.0.0', 12, 'ipv4')
LAN.addSubnet('192.168.0.0', 16, 'ipv4')
LAN.addSubnet('fc00::', 7, 'ipv6')

export function isLanAddress(addr: string): boolean {
  const a = parseAddress(addr)
  if (!a || a.port === 0) return false
  const family = isIP(a.host)
  return family === 4 ? LAN.check(a.host, 'ipv4') : family === 6 && LAN.check(a.host, 'ipv6')
}

/** Our LAN addresses on our socket's port: the bound one, or each interface's for a wildcard bind.
 * `interfaces` is injectable for tests. */
export function ourLanAddresses(bound: string, interfaces: () => string[] = interfaceHosts): string[] {
  const a = parseAddress(bound)
  if (!a) return []
  const wildcard = a.host === '0.0.0.0' || a.host === '::'
  const hosts = wildcard ? interfaces().filter((h) => a.host === '::' || isIP(h) === 4) : [a.host]
  return hosts.map((h) => formatAddress(h, a.port)).filter(isLanAddress)
}

function interfaceHosts(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address))
}

/** Both on one home-sized subnet: the same /24 (IPv4) or /64 (IPv6). BlockList does the prefix
 * match, so IPv6 spellings (`fd00::1`, `fd00:0:0:0::2`) need no parsing of ours. */
export function sameSubnet(a: string, b: string): boolean {
  return inSubnetOf(a)(b)
}

/** The test "shares `a`'s home-sized subnet", made once for many addresses: building the BlockList
 * is most of the cost, and LanMates.mates checks up to 16 addresses per subscription it is asked
 * about (review, session 9: 216 us a call, built per address). */
export function inSubnetOf(a: string): (b: string) => boolean {
  const x = parseAddress(a)?.host
  if (x === undefined || isIP(x) === 0) return () => false
  const family = isIP(x) === 4 ? 'ipv4' : 'ipv6'
  const subnet = new BlockList()
  subnet.addSubnet(x, family === 'ipv4' ? 24 : 64, family)
  return (b) => {
    const y = parseAddress(b)?.host
    return y !== undefined && isIP(y) === isIP(x) && subnet.check(y, family)
  }
}

/** Our LAN address a gateway forwards to: the one on its subnet (a wildcard bind has several). */
export function internalHost(localAddress: string, gatewayHost: string): string {
  const lan = ourLanAddresses(localAddress)
  const pick = lan.find((a) => sameSubnet(a, formatAddress(gatewayHost, 1))) ?? lan[0]
  const host = pick === undefined ? undefined : parseAddress(pick)?.host
  if (host === undefined) throw new Error(`no LAN address of ours to forward to (bound to ${localAddress})`)
  return host
}
