// A STUN binding responder (RFC 5389 Binding Request -> Success Response with XOR-MAPPED-ADDRESS),
// run on a lab host for the port-mapping test. Debian's miniupnpd 2.3.1 refuses to map anything while
// its WAN address is private (the lab's are, and must be) unless STUN says the router is reachable
// as itself; it asks four times and only checks that each answer names the port it asked from, so
// answering every request from this one socket is enough. Usage: stun-responder.ts <port>; prints
// `listening <port>` once bound.
import { createSocket } from 'node:dgram'

const MAGIC = 0x2112a442
const HEADER = 20

export function bindingResponse(req: Buffer, from: { address: string; port: number }): Buffer | null {
  if (req.length < HEADER || req.readUInt16BE(0) !== 0x0001 || req.readUInt32BE(4) !== MAGIC) return null
  const ip = from.address.split('.').map(Number)
  if (ip.length !== 4) return null
  const attr = Buffer.alloc(12)
  attr.writeUInt16BE(0x0020, 0) // XOR-MAPPED-ADDRESS
  attr.writeUInt16BE(8, 2)
  attr.writeUInt8(0x01, 5) // IPv4
  attr.writeUInt16BE(from.port ^ (MAGIC >>> 16), 6)
  attr.writeUInt32BE((((ip[0] << 24) | (ip[1] << 16) | (ip[2] << 8) | ip[3]) ^ MAGIC) >>> 0, 8)
  const head = Buffer.alloc(HEADER)
  head.writeUInt16BE(0x0101, 0)
  head.writeUInt16BE(attr.length, 2)
  req.copy(head, 4, 4, HEADER) // the cookie and the transaction id, echoed
  return Buffer.concat([head, attr])
}

if (process.argv[1]?.endsWith('stun-responder.ts')) {
  const sock = createSocket('udp4')
  sock.on('message', (msg, rinfo) => {
    const res = bindingResponse(msg, rinfo)
    if (res) sock.send(res, rinfo.port, rinfo.address)
  })
  sock.bind(Number(process.argv[2] ?? 3478), () => process.stdout.write(`listening ${sock.address().port}\n`))
}
