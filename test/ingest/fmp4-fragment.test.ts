// The INDEPENDENT flag a source signs for each part comes from the fragment's own bytes: boxes
// built here by hand, the way ffmpeg's mov muxer writes them, plus garbage that must not throw.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { readInit, startsIndependent } from '../../src/ingest/fmp4-fragment.ts'

const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b }
const box = (type: string, ...body: Buffer[]) => { const inner = Buffer.concat(body); return Buffer.concat([u32(inner.length + 8), Buffer.from(type, 'latin1'), inner]) }
const full = (type: string, version: number, flags: number, ...body: Buffer[]) => box(type, u32((version << 24) | flags), ...body)

function trak(id: number, handler: string): Buffer {
  const tkhd = full('tkhd', 0, 3, u32(0), u32(0), u32(id), Buffer.alloc(68))
  const hdlr = full('hdlr', 0, 0, u32(0), Buffer.from(handler, 'latin1'), Buffer.alloc(13))
  return box('trak', tkhd, box('mdia', hdlr))
}

/** Audio is track 1 and video track 2, to show the video track is looked up, not assumed. */
function init(trexVideoFlags = 0x01010000): Buffer {
  const trex = (id: number, flags: number) => full('trex', 0, 0, u32(id), u32(1), u32(0), u32(0), u32(flags))
  return Buffer.concat([box('ftyp', Buffer.from('isom')), box('moov', trak(1, 'soun'), trak(2, 'vide'), box('mvex', trex(1, 0x02000000), trex(2, trexVideoFlags)))])
}

/** A moof with one traf per track: tfhd (optionally with default flags), trun (optionally with first-sample flags). */
function fragment(video: { tfhdDefault?: number; firstFlags?: number; sampleFlags?: number }): Buffer {
  const audio = box('traf', full('tfhd', 0, 0x020000, u32(1)), full('trun', 0, 0x1, u32(1), u32(0)))
  let tfFlags = 0x020000
  const tfBody = [u32(2)]
  if (video.tfhdDefault !== undefined) { tfFlags |= 0x20; tfBody.push(u32(video.tfhdDefault)) }
  let trFlags = 0x1 | 0x200
  const trBody = [u32(2), u32(0)]
  if (video.firstFlags !== undefined) { trFlags |= 0x4; trBody.push(u32(video.firstFlags)) }
  if (video.sampleFlags !== undefined) trFlags |= 0x400
  for (let i = 0; i < 2; i++) { trBody.push(u32(1000)); if (video.sampleFlags !== undefined) trBody.push(u32(i === 0 ? video.sampleFlags : 0x01010000)) }
  const v = box('traf', full('tfhd', 0, tfFlags, ...tfBody), full('trun', 0, trFlags, ...trBody))
  return Buffer.concat([box('moof', full('mfhd', 0, 0, u32(7)), audio, v), box('mdat', Buffer.alloc(32))])
}

const SYNC = 0x02000000 // depends on no other sample
const NON_SYNC = 0x01010000 // depends on others, non-sync

test('the init names the video track and its default sample flags', () => {
  const facts = readInit(init())
  assert.equal(facts.videoTrack, 2)
  assert.equal(facts.defaultFlags.get(2), NON_SYNC)
})

test('a fragment is independent when its first video sample is a sync sample, wherever the flags live', () => {
  const facts = readInit(init())
  assert.equal(startsIndependent(fragment({ firstFlags: SYNC, tfhdDefault: NON_SYNC }), facts), true, 'trun first_sample_flags (ffmpeg on a keyframe)')
  assert.equal(startsIndependent(fragment({ tfhdDefault: NON_SYNC }), facts), false, 'tfhd default flags (ffmpeg between keyframes)')
  assert.equal(startsIndependent(fragment({ tfhdDefault: SYNC }), facts), true)
  assert.equal(startsIndependent(fragment({ sampleFlags: SYNC }), facts), true, 'per-sample flags')
  assert.equal(startsIndependent(fragment({ sampleFlags: NON_SYNC }), facts), false)
  assert.equal(startsIndependent(fragment({}), facts), false, 'trex default: non-sync')
  assert.equal(startsIndependent(fragment({}), readInit(init(SYNC))), true, 'trex default: sync')
})

test('no moof, a cut moof or garbage is not independent, and never throws', () => {
  const facts = readInit(init())
  assert.equal(startsIndependent(Buffer.alloc(0), facts), false)
  assert.equal(startsIndependent(box('mdat', Buffer.alloc(8)), facts), false)
  assert.equal(startsIndependent(fragment({ firstFlags: SYNC }).subarray(0, 60), facts), false)
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    assert.equal(typeof startsIndependent(bytes, facts), 'boolean')
    const f = readInit(bytes)
    assert.ok(f.videoTrack === null || Number.isInteger(f.videoTrack))
  }), { numRuns: 3000 })
})
