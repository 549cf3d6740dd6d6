// PCP (RFC 6887) messages a port-mapping client needs: MAP (section 11) to make, renew and delete a
// mapping of our UDP port, and ANNOUNCE (section 14.1) to read the server's epoch between renewals.
// Replies come from the gateway, remote input: decodePcpReply checks every field it uses and returns
// null with a reason for anything else; it never throws.
//
// Request header (24 bytes): version 2 | R=0,opcode | reserved(2) | requested lifetime(4) | client IP(16).
// Response header (24 bytes): version 2 | R=1,opcode | reserved | result | lifetime(4) | epoch(4) | reserved(12).
// MAP payload (36 bytes, both ways): nonce(12) | protocol | reserved(3) | internal port(2) |
// suggested/assigned external port(2) | suggested/assigned external IP(16). IPv4 addresses travel
// as IPv4-mapped IPv6 (::ffff:a.b.c.d, section 5).
import { isIPv4 } from 'node:net'

export const PCP_VERSION = 2
export const PCP_SERVER_PORT = 5351
export const PcpOpcode = { announce: 0, map: 1 } as const
/** IANA protocol number of UDP, the only kind we map. */
export const IPPROTO_UDP = 17
const HEADER = 24
const MAP_PAYLOAD = 36
/** Section 7: a PCP message is at most 1100 bytes and a multiple of 4. */
export const PCP_MAX_MESSAGE = 1100

/** Section 7.4. */
export const PcpResult = {
  SUCCESS: 0, UNSUPP_VERSION: 1, NOT_AUTHORIZED: 2, MALFORMED_REQUEST: 3, UNSUPP_OPCODE: 4,
  UNSUPP_OPTION: 5, MALFORMED_OPTION: 6, NETWORK_FAILURE: 7, NO_RESOURCES: 8, UNSUPP_PROTOCOL: 9,
  USER_EX_QUOTA: 10, CANNOT_PROVIDE_EXTERNAL: 11, ADDRESS_MISMATCH: 12, EXCESSIVE_REMOTE_PEERS: 13,
} as const
const RESULT_NAMES = new Map<number, string>(Object.entries(PcpResult).map(([k, v]) => [v, k]))
export function pcpResultName(code: number): string { return RESULT_NAMES.get(code) ?? `result ${code}` }

export interface PcpMapRequest {
  /** 12 random bytes that name this mapping: renewals and the deletion repeat them (section 11.1). */
  nonce: Uint8Array
  /** Our LAN address, which must be the request's source address (else ADDRESS_MISMATCH). */
  clientIp: string
  internalPort: number
  /** Seconds; 0 deletes the mapping (section 15). */
  lifetime: number
  /** What we ask for: the mapping we hold at a renewal, 0 and the all-zeros address otherwise. */
  externalPort?: number
  externalIp?: string
}

export type PcpReply =
  | { opcode: typeof PcpOpcode.announce; result: number; lifetime: number; epoch: number }
  | { opcode: typeof PcpOpcode.map; result: number; lifetime: number; epoch: number; nonce: Uint8Array; protocol: number; internalPort: number; externalPort: number; externalIp: string }

function writeIpv4Mapped(buf: Buffer, at: number, ip: string): void {
  if (!isIPv4(ip)) throw new RangeError(`PCP here carries IPv4 addresses only, got ${ip}`)
  buf.fill(0, at, at + 10)
  buf.writeUInt16BE(0xffff, at + 10)
  ip.split('.').forEach((o, i) => buf.writeUInt8(Number(o), at + 12 + i))
}

function header(opcode: number, lifetime: number, clientIp: string, length: number): Buffer {
  const buf = Buffer.alloc(length)
  buf.writeUInt8(PCP_VERSION, 0)
  buf.writeUInt8(opcode, 1)
  buf.writeUInt32BE(lifetime, 4)
  writeIpv4Mapped(buf, 8, clientIp)
  return buf
}

export function encodePcpMap(r: PcpMapRequest): Buffer {
  if (r.nonce.length !== 12) throw new RangeError('a PCP mapping nonce is 12 bytes')
  const buf = header(PcpOpcode.map, r.lifetime, r.clientIp, HEADER + MAP_PAYLOAD)
  Buffer.from(r.nonce).copy(buf, 24)
  buf.writeUInt8(IPPROTO_UDP, 36)
  buf.writeUInt16BE(r.internalPort, 40)
  buf.writeUInt16BE(r.externalPort ?? 0, 42)
  writeIpv4Mapped(buf, 44, r.externalIp ?? '0.0.0.0')
  return buf
}

/** Section 14.1: an ANNOUNCE request (lifetime 0, no payload) that a server answers with its epoch. */
export function encodePcpAnnounce(clientIp: string): Buffer {
  return header(PcpOpcode.announce, 0, clientIp, HEADER)
}

/** The IPv4 address in a 16-byte IPv4-mapped field, or null for an IPv6 one (we asked for IPv4). */
function readIpv4Mapped(buf: Buffer, at: number): string | null {
  for (let i = 0; i < 10; i++) if (buf[at + i] !== 0) return null
  if (buf.readUInt16BE(at + 10) !== 0xffff) return null
  return `${buf[at + 12]}.${buf[at + 13]}.${buf[at + 14]}.${buf[at + 15]}`
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string }

/** A PCP response, or why it is not one we can use. A NAT-PMP reply (version 0) is not PCP: the
 * caller tries nat-pmp-codec.ts's decoder on it (a NAT-PMP-only gateway answers a PCP request with
 * its own UNSUPP_VERSION, RFC 6887 section 9). Options after the MAP payload are skipped. */
export function decodePcpReply(buf: Buffer): Decoded<PcpReply> {
  if (buf.length < HEADER) return { ok: false, reason: `PCP reply of ${buf.length} bytes, under its 24-byte header` }
  if (buf.length > PCP_MAX_MESSAGE || buf.length % 4 !== 0) return { ok: false, reason: `PCP reply of ${buf.length} bytes (a multiple of 4 up to ${PCP_MAX_MESSAGE})` }
  if (buf[0] !== PCP_VERSION) return { ok: false, reason: `PCP version ${buf[0]}` }
  if ((buf[1] & 0x80) === 0) return { ok: false, reason: 'a PCP request, not a response' }
  const opcode = buf[1] & 0x7f
  const result = buf[3]
  const lifetime = buf.readUInt32BE(4)
  const epoch = buf.readUInt32BE(8)
  if (opcode === PcpOpcode.announce) return { ok: true, value: { opcode, result, lifetime, epoch } }
  if (opcode !== PcpOpcode.map) return { ok: false, reason: `PCP opcode ${opcode}` }
  // Section 7.2: an error response may carry no payload (a server that could not parse ours).
  if (buf.length < HEADER + MAP_PAYLOAD) {
    if (result !== PcpResult.SUCCESS) return { ok: true, value: { opcode, result, lifetime, epoch, nonce: new Uint8Array(0), protocol: 0, internalPort: 0, externalPort: 0, externalIp: '0.0.0.0' } }
    return { ok: false, reason: `PCP MAP success of ${buf.length} bytes, without its payload` }
  }
  // An error reply's address field is whatever the server copied; only a success needs ours.
  const externalIp = readIpv4Mapped(buf, 44) ?? (result === PcpResult.SUCCESS ? null : '0.0.0.0')
  if (externalIp === null) return { ok: false, reason: 'PCP MAP reply with a non-IPv4 external address' }
  return {
    ok: true,
    value: {
      opcode, result, lifetime, epoch,
      nonce: new Uint8Array(buf.subarray(24, 36)), protocol: buf[36],
      internalPort: buf.readUInt16BE(40), externalPort: buf.readUInt16BE(42), externalIp,
    },
  }
}
