// NAT-PMP (RFC 6886) messages: the external-address request (opcode 0, section 3.2) and the UDP
// mapping request (opcode 1, section 3.3; lifetime 0 and external port 0 delete it, section 3.4).
// Every reply carries the gateway's epoch: seconds since its port mapping table was initialised.
// Replies are remote input: decodeNatPmpReply returns null with a reason, never throws.
//
// External address: request [0, 0]; reply [0, 128, result(2), epoch(4), address(4)] = 12 bytes.
// Map UDP: request [0, 1, reserved(2), internal port(2), suggested external port(2), lifetime(4)];
// reply [0, 129, result(2), epoch(4), internal port(2), external port(2), lifetime(4)] = 16 bytes.
import type { Decoded } from './pcp-codec.ts'

export const NAT_PMP_VERSION = 0
export const NatPmpOpcode = { externalAddress: 0, mapUdp: 1 } as const
/** Section 3.5. A PCP server receiving our version 0 answers as NAT-PMP; a NAT-PMP server receiving
 * PCP's version 2 answers UNSUPP_VERSION in NAT-PMP's format (RFC 6887 section 9). */
export const NatPmpResult = { SUCCESS: 0, UNSUPP_VERSION: 1, NOT_AUTHORIZED: 2, NETWORK_FAILURE: 3, OUT_OF_RESOURCES: 4, UNSUPP_OPCODE: 5 } as const
const RESULT_NAMES = new Map<number, string>(Object.entries(NatPmpResult).map(([k, v]) => [v, k]))
export function natPmpResultName(code: number): string { return RESULT_NAMES.get(code) ?? `result ${code}` }

export type NatPmpReply =
  | { opcode: typeof NatPmpOpcode.externalAddress; result: number; epoch: number; externalIp: string }
  | { opcode: typeof NatPmpOpcode.mapUdp; result: number; epoch: number; internalPort: number; externalPort: number; lifetime: number }
  /** The answer to a request of another version or opcode (PCP's UNSUPP_VERSION): header only. */
  | { opcode: number; result: number; epoch: number; short: true }

export function encodeNatPmpExternalAddress(): Buffer {
  return Buffer.from([NAT_PMP_VERSION, NatPmpOpcode.externalAddress])
}

export function encodeNatPmpMap(r: { internalPort: number; externalPort: number; lifetime: number }): Buffer {
  const buf = Buffer.alloc(12)
  buf.writeUInt8(NAT_PMP_VERSION, 0)
  buf.writeUInt8(NatPmpOpcode.mapUdp, 1)
  buf.writeUInt16BE(r.internalPort, 4)
  buf.writeUInt16BE(r.externalPort, 6)
  buf.writeUInt32BE(r.lifetime, 8)
  return buf
}

/** The longest reply we read; more is not NAT-PMP (a reply is 12 or 16 bytes). */
const MAX_REPLY = 16

export function decodeNatPmpReply(buf: Buffer): Decoded<NatPmpReply> {
  if (buf.length < 8) return { ok: false, reason: `NAT-PMP reply of ${buf.length} bytes, under its 8-byte header` }
  if (buf.length > MAX_REPLY) return { ok: false, reason: `NAT-PMP reply of ${buf.length} bytes, over ${MAX_REPLY}` }
  if (buf[0] !== NAT_PMP_VERSION) return { ok: false, reason: `NAT-PMP version ${buf[0]}` }
  if (buf[1] < 128) return { ok: false, reason: 'a NAT-PMP request, not a reply' }
  const opcode = buf[1] - 128
  const result = buf.readUInt16BE(2)
  const epoch = buf.readUInt32BE(4)
  if (opcode === NatPmpOpcode.externalAddress && buf.length >= 12) {
    return { ok: true, value: { opcode, result, epoch, externalIp: `${buf[8]}.${buf[9]}.${buf[10]}.${buf[11]}` } }
  }
  if (opcode === NatPmpOpcode.mapUdp && buf.length >= 16) {
    return { ok: true, value: { opcode, result, epoch, internalPort: buf.readUInt16BE(8), externalPort: buf.readUInt16BE(10), lifetime: buf.readUInt32BE(12) } }
  }
  // An error reply may stop after the epoch (section 3.5, the UNSUPP_VERSION answer to PCP).
  if (result !== NatPmpResult.SUCCESS) return { ok: true, value: { opcode, result, epoch, short: true } }
  return { ok: false, reason: `NAT-PMP success for opcode ${opcode} in ${buf.length} bytes` }
}
