import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PlaylistCursors } from '../../src/player/playlist-cursor.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { FakeStreamLog } from './fake-log.ts'

test('DISCONTINUITY-SEQUENCE counts discontinuities before the window and never drops when old records go', () => {
  const log = new FakeStreamLog()
  for (let i = 0; i < 12; i++) log.addSegment(CHUNK_SIZE, { discontinuity: i === 2 || i === 4 || i === 6 || i === 9 })
  log.verify()
  const c = new PlaylistCursors()
  assert.equal(c.floor(log), 0)
  assert.equal(c.advance(log, 5), 2, 'segments 2 and 4 left the window')
  assert.equal(c.floor(log), 5)
  log.forgetSegment(2) // retention deleted the oldest records
  log.forgetSegment(4)
  assert.equal(c.advance(log, 7), 3, 'still counts 2 and 4, plus 6')
  assert.equal(c.advance(log, 6), 3, 'an earlier start does not move the cursor back')
  assert.equal(c.floor(log), 7)
  assert.equal(c.advance(log, 10), 4)
})
