import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CLOCK_BIT_WIDTH, CLOCK_BITS, CLOCK_STRIP_HEIGHT, clockStripToEpoch, readClockStrip } from '../../src/ingest/clock-strip.ts'

/** RGBA pixels of a picture at (x0, y0) with the strip for `ms` drawn as the filter draws it (luma 16 / 235). */
function picture(ms: number, x0: number, y0: number, width = 700, height = 40, noise = 0): Uint8Array {
  const px = new Uint8Array(width * height * 4).fill(128)
  for (let y = y0; y < y0 + CLOCK_STRIP_HEIGHT; y++) {
    for (let x = x0; x < x0 + CLOCK_BITS * CLOCK_BIT_WIDTH; x++) {
      const bit = Math.floor((x - x0) / CLOCK_BIT_WIDTH)
      const v = Math.floor(ms / 2 ** bit) % 2 ? 235 - noise : 16 + noise
      px.set([v, v, v, 255], (y * width + x) * 4)
    }
  }
  return px
}

test('the strip reads back the ms of day it encodes, with compression-like noise', () => {
  for (const ms of [0, 1, 45_296_789, 86_399_999]) {
    assert.equal(readClockStrip(picture(ms, 0, 0), 700, 0, 0), ms)
    assert.equal(readClockStrip(picture(ms, 30, 10, 700, 40, 40), 700, 30, 10), ms)
  }
})

test('no strip (a flat grey picture, or the wrong place) reads as null, not as a time', () => {
  assert.equal(readClockStrip(new Uint8Array(700 * 40 * 4).fill(128), 700, 0, 0), null)
  assert.equal(readClockStrip(picture(5, 0, 0), 700, 0, 500), null, 'outside the pixels')
})

test('a time of day lands on the day nearest the reference, across midnight', () => {
  const day = Date.UTC(2026, 10, 29)
  assert.equal(clockStripToEpoch(45_296_789, day + 45_297_500), day + 45_296_789)
  assert.equal(clockStripToEpoch(86_399_500, day + 300), day - 500, 'just before midnight, read just after it')
  assert.equal(clockStripToEpoch(200, day + 86_399_900), day + 86_400_200)
})
