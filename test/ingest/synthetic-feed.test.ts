// The synthetic feed stops writing once stopped: a tick whose append was still in flight when
// stop() came must not go on to cut a segment into a log its owner has closed meanwhile
// (bench:audience's source died at its exit with ERR_CLOSED from addSegment).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SyntheticFeed } from '../../src/ingest/synthetic-feed.ts'
import { VirtualTimers } from '../../src/util/timers.ts'
import type { StreamLog } from '../../src/store/stream-log.ts'

test('a tick in flight at stop() writes nothing more to the log', async () => {
  const timers = new VirtualTimers({ start: 1_000_000 })
  const calls: string[] = []
  let closed = false
  let release!: () => void
  const log = {
    append: (b: Buffer) => {
      calls.push(`append ${b.length}`)
      // The append in flight finishes only when the test says so.
      return new Promise<void>((r) => { release = r })
    },
    addSegment: async () => {
      calls.push('addSegment')
      if (closed) throw new Error('closed')
    },
  } as unknown as StreamLog
  // Segments of 40 ms: the very tick that appends is due to cut one.
  const feed = new SyntheticFeed({ log, timers, bytes: (n) => Buffer.alloc(n) }, { bitrateBps: 2e6, segmentMs: 40 })
  feed.start()
  await timers.runFor(40)
  assert.deepEqual(calls, ['append 10000'])
  feed.stop()
  closed = true
  release()
  await timers.runFor(200)
  assert.deepEqual(calls, ['append 10000'], 'no segment cut, no append after stop()')
})
