// The machine-readable twin of the burned-in wall clock: a row of black and white blocks across the
// top of the picture, one per bit of the milliseconds since UTC midnight (least significant bit on
// the left). No OCR exists on this machine, so a latency measurement reads these blocks from a
// screenshot's pixels; the human-readable clock under the picture says the same thing.
// Blocks are 22 x 12 pixels: several H.264 macroblocks wide, so compression never blurs a bit.

/** ms in a day < 2^27. */
export const CLOCK_BITS = 27
export const CLOCK_BIT_WIDTH = 22
export const CLOCK_STRIP_HEIGHT = 12

/** A filtergraph fragment (one input, one output) that draws the strip from each frame's pts,
 * which must be seconds since UTC midnight at that point of the chain (see ffmpeg-args.ts). */
export function clockStripFilter (): string {
  const w = CLOCK_BITS * CLOCK_BIT_WIDTH
  const bit = `mod(floor(T*1000/pow(2\\,floor(X/${CLOCK_BIT_WIDTH})))\\,2)`
  return `split[cjm][cjs];[cjs]crop=${w}:${CLOCK_STRIP_HEIGHT}:0:0,geq=lum='if(${bit}\\,235\\,16)':cb=128:cr=128[cjb];[cjm][cjb]overlay=0:0`
}

/** Reads the strip from RGBA pixels (`width` pixels per row) whose picture's top-left corner is at
 * (x0, y0) and whose scale is `scale` screen pixels per video pixel. Returns ms since UTC midnight,
 * or null when a block is neither clearly dark nor clearly light (no picture, a different scene). */
export function readClockStrip (rgba: Uint8Array, width: number, x0: number, y0: number, scale = 1): number | null {
  let ms = 0
  for (let b = 0; b < CLOCK_BITS; b++) {
    const x = Math.round(x0 + (b + 0.5) * CLOCK_BIT_WIDTH * scale)
    const y = Math.round(y0 + 0.5 * CLOCK_STRIP_HEIGHT * scale)
    const i = (y * width + x) * 4
    if (i < 0 || i + 2 >= rgba.length) return null
    const luma = 0.299 * rgba[i] + 0.587 * rgba[i + 1] + 0.114 * rgba[i + 2]
    if (luma > 170) ms += 2 ** b
    else if (luma >= 85) return null
  }
  return ms < 86_400_000 ? ms : null
}

/** The ms of UTC day `at` falls in, shifted to the day of `near` (both ms since epoch): the strip
 * holds only the time of day, and a reading taken just after midnight belongs to the previous day. */
export function clockStripToEpoch (msOfDay: number, near: number): number {
  const day = near - (((near % 86_400_000) + 86_400_000) % 86_400_000)
  const candidates = [day - 86_400_000, day, day + 86_400_000].map((d) => d + msOfDay)
  return candidates.reduce((best, c) => (Math.abs(c - near) < Math.abs(best - near) ? c : best))
}
