// Just enough ISO BMFF reading to tell whether an fMP4 fragment (moof+mdat) starts with a sync
// sample of the video track: the source signs that as a part's INDEPENDENT flag, so it is read from
// the bytes themselves rather than assumed from the encoder's settings. Pure, bounded, never throws
// on garbage (the answer is then "not independent", which only costs a player a later start).

export interface InitFacts {
  /** track_ID of the first video track, or null when the init has none. */
  videoTrack: number | null
  /** trex default_sample_flags per track. */
  defaultFlags: Map<number, number>
}

interface Box { type: string; start: number; end: number; body: number }

/** The boxes in [from, to), stopping at the first malformed one. */
function boxes (b: Uint8Array, from: number, to: number): Box[] {
  const out: Box[] = []
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  for (let p = from; p + 8 <= to;) {
    let size = dv.getUint32(p)
    let body = p + 8
    if (size === 1) {
      if (p + 16 > to) break
      size = Number(dv.getBigUint64(p + 8))
      body = p + 16
    }
    if (size < body - p) break
    const type = String.fromCharCode(b[p + 4], b[p + 5], b[p + 6], b[p + 7])
    out.push({ type, start: p, end: Math.min(to, p + size), body })
    p += size
  }
  return out
}

const child = (b: Uint8Array, box: Box | undefined, type: string, skip = 0): Box | undefined =>
  box ? boxes(b, box.body + skip, box.end).find((x) => x.type === type) : undefined

const u32 = (b: Uint8Array, at: number, end: number): number | null =>
  at + 4 <= end ? new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at) : null

/** Reads the video track id and trex defaults from an init segment (ftyp + moov). */
export function readInit (b: Uint8Array): InitFacts {
  const facts: InitFacts = { videoTrack: null, defaultFlags: new Map() }
  const moov = boxes(b, 0, b.length).find((x) => x.type === 'moov')
  if (!moov) return facts
  for (const box of boxes(b, moov.body, moov.end)) {
    if (box.type === 'trak' && facts.videoTrack === null) {
      const tkhd = child(b, box, 'tkhd')
      const hdlr = child(b, child(b, box, 'mdia'), 'hdlr')
      if (!tkhd || !hdlr || u32(b, hdlr.body + 8, hdlr.end) !== 0x76696465) continue // 'vide'
      const version = b[tkhd.body]
      facts.videoTrack = u32(b, tkhd.body + (version === 1 ? 20 : 12), tkhd.end)
    }
    if (box.type === 'mvex') {
      for (const trex of boxes(b, box.body, box.end).filter((x) => x.type === 'trex')) {
        const id = u32(b, trex.body + 4, trex.end)
        const flags = u32(b, trex.body + 20, trex.end)
        if (id !== null && flags !== null) facts.defaultFlags.set(id, flags)
      }
    }
  }
  return facts
}

/** ISO 14496-12 sample flags: sample_is_non_sync_sample, or sample_depends_on == 1 (depends on others). */
const isSync = (flags: number): boolean => (flags & 0x10000) === 0 && ((flags >>> 24) & 0x3) !== 1

/** True when the fragment at the start of `b` (at least its moof) begins with a video sync sample.
 * A fragment without a video track (audio only) is independent. */
export function startsIndependent (b: Uint8Array, init: InitFacts): boolean {
  const moof = boxes(b, 0, b.length).find((x) => x.type === 'moof')
  if (!moof) return false
  for (const traf of boxes(b, moof.body, moof.end).filter((x) => x.type === 'traf')) {
    const tfhd = child(b, traf, 'tfhd')
    const trun = child(b, traf, 'trun')
    if (!tfhd || !trun) continue
    const track = u32(b, tfhd.body + 4, tfhd.end)
    if (track === null || track !== init.videoTrack) continue
    const tfFlags = (u32(b, tfhd.body, tfhd.end) ?? 0) & 0xffffff
    let at = tfhd.body + 8
    if (tfFlags & 0x1) at += 8
    if (tfFlags & 0x2) at += 4
    if (tfFlags & 0x8) at += 4
    if (tfFlags & 0x10) at += 4
    const tfDefault = tfFlags & 0x20 ? u32(b, at, tfhd.end) : null
    const trFlags = (u32(b, trun.body, trun.end) ?? 0) & 0xffffff
    let p = trun.body + 8 // version/flags, sample_count
    if (trFlags & 0x1) p += 4
    if (trFlags & 0x4) return isSync(u32(b, p, trun.end) ?? 0x10000)
    if (trFlags & 0x400) {
      if (trFlags & 0x100) p += 4
      if (trFlags & 0x200) p += 4
      return isSync(u32(b, p, trun.end) ?? 0x10000)
    }
    return isSync(tfDefault ?? init.defaultFlags.get(track) ?? 0x10000)
  }
  return init.videoTrack === null
}
