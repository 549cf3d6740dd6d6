// The PCP (RFC 6887) and NAT-PMP (RFC 6886) codecs against byte layouts written out from the RFCs'
// figures, field by field; the decoders on garbage (fast-check): null with a reason, never a throw.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodePcpReply, encodePcpAnnounce, encodePcpMap, PcpResult, pcpResultName } from '../../../src/mesh/nat/pcp-codec.ts'
import { decodeNatPmpReply, encodeNatPmpExternalAddress, encodeNatPmpMap } from '../../../src/mesh/nat/nat-pmp-codec.ts'

/** Hex bytes; on each line, what follows `#` names the field. */
const hex = (s: string) => Buffer.from(s.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex')
const NONCE = hex('0102030405060708090a0b0c')

test('PCP MAP request: RFC 6887 figures 2 and 9, IPv4 as IPv4-mapped IPv6', () => {
  const req = encodePcpMap({ nonce: NONCE, clientIp: '192.168.7.20', internalPort: 4000, lifetime: 3600 })
  assert.deepEqual(req, hex(`
    02 01 0000                           # version 2, R=0 opcode MAP, reserved
    00000e10                             # requested lifetime 3600 s
    00000000 00000000 0000ffff c0a80714  # client IP ::ffff:192.168.7.20
    0102030405060708090a0b0c             # mapping nonce
    11 000000                            # protocol 17 (UDP), reserved
    0fa0 0000                            # internal port 4000, suggested external port 0
    00000000 00000000 0000ffff 00000000  # suggested external IP ::ffff:0.0.0.0 (no preference)
  `))
  assert.equal(req.length, 60)
  const renew = encodePcpMap({ nonce: NONCE, clientIp: '192.168.7.20', internalPort: 4000, lifetime: 0, externalPort: 4001, externalIp: '10.99.0.9' })
  assert.deepEqual(renew.subarray(4, 8), hex('00000000'), 'a deletion asks for lifetime 0')
  assert.deepEqual(renew.subarray(42, 60), hex('0fa1 00000000 00000000 0000ffff 0a630009'), 'the held port and address are suggested')
  assert.throws(() => encodePcpMap({ nonce: NONCE.subarray(0, 8), clientIp: '192.168.7.20', internalPort: 1, lifetime: 1 }), /12 bytes/)
})

test('PCP ANNOUNCE request: the 24-byte header alone, lifetime 0 (section 14.1)', () => {
  assert.deepEqual(encodePcpAnnounce('10.0.0.2'), hex('02 00 0000 00000000 00000000 00000000 0000ffff 0a000002'))
})

test('PCP MAP response: RFC 6887 figures 3 and 10', () => {
  const reply = hex(`
    02 81 00 00   00000708   0000002a   000000000000000000000000
    0102030405060708090a0b0c
    11 000000   0fa0 5dc1
    00000000 00000000 0000ffff 0a630009`)
  const d = decodePcpReply(reply)
  assert.ok(d.ok)
  assert.deepEqual(d.value, {
    opcode: 1, result: 0, lifetime: 1800, epoch: 42, nonce: new Uint8Array(NONCE), protocol: 17,
    internalPort: 4000, externalPort: 0x5dc1, externalIp: '10.99.0.9',
  })
  // An error reply may come without the payload (section 7.2).
  const err = decodePcpReply(hex('02 81 00 02 0000001e 0000002a 000000000000000000000000'))
  assert.ok(err.ok && err.value.result === PcpResult.NOT_AUTHORIZED && err.value.lifetime === 30)
  assert.equal(pcpResultName(8), 'NO_RESOURCES')
  assert.equal(pcpResultName(99), 'result 99')
  // ANNOUNCE response: header only, epoch 7.
  const ann = decodePcpReply(hex('02 80 00 00 00000000 00000007 000000000000000000000000'))
  assert.ok(ann.ok && ann.value.opcode === 0 && ann.value.epoch === 7)
})

test('PCP replies that are not ours to use are refused with a reason', () => {
  const ok = hex('02 81 00 00 00000708 0000002a 000000000000000000000000 0102030405060708090a0b0c 11000000 0fa05dc1 00000000000000000000ffff0a630009')
  const bad = (b: Buffer) => { const d = decodePcpReply(b); assert.ok(!d.ok); return d.reason }
  assert.match(bad(ok.subarray(0, 20)), /under its 24-byte header/)
  assert.match(bad(Buffer.concat([ok, hex('00')])), /multiple of 4/)
  assert.match(bad(Buffer.alloc(1104, 0)), /multiple of 4 up to 1100/)
  assert.match(bad(Buffer.from([1, ...ok.subarray(1)])), /PCP version 1/)
  assert.match(bad(Buffer.from([2, 1, ...ok.subarray(2)])), /a PCP request/)
  assert.match(bad(Buffer.from([2, 0x82, ...ok.subarray(2)])), /opcode 2/)
  assert.match(bad(ok.subarray(0, 24)), /success .* without its payload/)
  const v6 = Buffer.from(ok); v6[44] = 0x20
  assert.match(bad(v6), /non-IPv4 external address/)
  // Options after the payload are skipped (a multiple of 4, within 1100 bytes).
  assert.ok(decodePcpReply(Buffer.concat([ok, hex('12 00 0004 00000000')])).ok)
})

test('NAT-PMP requests and replies: RFC 6886 sections 3.2 to 3.5', () => {
  assert.deepEqual(encodeNatPmpExternalAddress(), hex('00 00'))
  assert.deepEqual(encodeNatPmpMap({ internalPort: 4000, externalPort: 4000, lifetime: 7200 }), hex('00 01 0000 0fa0 0fa0 00001c20'), 'lifetime in seconds, not ms')
  assert.deepEqual(encodeNatPmpMap({ internalPort: 4000, externalPort: 0, lifetime: 0 }), hex('00 01 0000 0fa0 0000 00000000'), 'the deletion')
  const addr = decodeNatPmpReply(hex('00 80 0000 00000e10 0a630009'))
  assert.ok(addr.ok)
  assert.deepEqual(addr.value, { opcode: 0, result: 0, epoch: 3600, externalIp: '10.99.0.9' })
  const map = decodeNatPmpReply(hex('00 81 0000 00000e11 0fa0 0fa5 00000e10'))
  assert.ok(map.ok)
  assert.deepEqual(map.value, { opcode: 1, result: 0, epoch: 3601, internalPort: 4000, externalPort: 4005, lifetime: 3600 })
  // What a NAT-PMP-only gateway answers to PCP's version 2 MAP (RFC 6887 section 9): UNSUPP_VERSION.
  const unsupp = decodeNatPmpReply(hex('00 81 0001 00000005'))
  assert.ok(unsupp.ok && unsupp.value.result === 1 && 'short' in unsupp.value)
  const bad = (b: Buffer) => { const d = decodeNatPmpReply(b); assert.ok(!d.ok); return d.reason }
  assert.match(bad(hex('00 80 0000')), /under its 8-byte header/)
  assert.match(bad(Buffer.alloc(17)), /over 16/)
  assert.match(bad(hex('02 80 0000 00000000 00000000')), /version 2/)
  assert.match(bad(hex('00 01 0000 00000000 00000000')), /a NAT-PMP request/)
  assert.match(bad(hex('00 81 0000 00000000')), /success for opcode 1 in 8 bytes/)
})

test('decoders return a value or a reason for any bytes, never throw', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 1200 }), (bytes) => {
    const b = Buffer.from(bytes)
    for (const d of [decodePcpReply(b), decodeNatPmpReply(b)]) assert.ok(d.ok || typeof d.reason === 'string')
  }), { numRuns: 2000 })
  // Valid-looking headers with random bodies reach the deeper branches.
  fc.assert(fc.property(fc.constantFrom(0x80, 0x81, 0x82), fc.integer({ min: 0, max: 270 }), fc.uint8Array({ minLength: 1100, maxLength: 1100 }), (op, words, body) => {
    const b = Buffer.from(body.subarray(0, words * 4)); if (b.length >= 2) { b[0] = 2; b[1] = op }
    const d = decodePcpReply(b)
    assert.ok(d.ok || typeof d.reason === 'string')
  }), { numRuns: 2000 })
})
