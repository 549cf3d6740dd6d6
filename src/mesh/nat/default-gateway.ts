// The default gateway, where PCP and NAT-PMP requests go (unicast to it alone: RFC 6887 section 8.1
// and RFC 6886 section 3.1 name the default router as the server). Linux lists it in
// /proc/net/route (per network namespace): the row whose destination and mask are 0, with the
// RTF_UP and RTF_GATEWAY flags; addresses are hex in the host's byte order (little-endian here).
import { readFile } from 'node:fs/promises'
import { endianness } from 'node:os'

const RTF_UP = 0x1
const RTF_GATEWAY = 0x2
/** The file is a few lines per route; a machine with more than this is not a home host. */
const MAX_ROUTES = 4096

function hexToIpv4(hex: string): string | null {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return null
  const n = Number.parseInt(hex, 16)
  const bytes = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]
  return (endianness() === 'LE' ? bytes.reverse() : bytes).join('.')
}

/** The IPv4 default gateway in a /proc/net/route listing (the lowest metric), or null. */
export function parseDefaultGateway(table: string): string | null {
  let best: { ip: string; metric: number } | null = null
  for (const line of table.split('\n').slice(1, MAX_ROUTES)) {
    const f = line.trim().split(/\s+/)
    if (f.length < 8) continue
    const [, dest, gw, flags, , , metric, mask] = f
    if (dest !== '00000000' || mask !== '00000000') continue
    if ((Number.parseInt(flags, 16) & (RTF_UP | RTF_GATEWAY)) !== (RTF_UP | RTF_GATEWAY)) continue
    const ip = hexToIpv4(gw)
    const m = Number(metric)
    if (ip && (best === null || m < best.metric)) best = { ip, metric: m }
  }
  return best?.ip ?? null
}

export async function defaultGateway(path = '/proc/net/route'): Promise<string | null> {
  try { return parseDefaultGateway(await readFile(path, 'utf8')) } catch { return null }
}
