// Holes in a viewer's segment index are asked for, oldest first, at most every 500 ms. The walk
// resumes past the records it saw held at its last pass (a viewer looked up 64 records on every
// tick); a record retention deleted (it raises the log's floor) is looked for again.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RepairRequests, type RepairComponents } from '../../src/mesh/stream/repair-requests.ts'
import type { Message } from '../../src/mesh/messages.ts'

function setup() {
  const held = new Set<number>()
  const log = { floor: 0, segment: (n: number) => (held.has(n) ? { n } : null), segmentCount: () => Math.max(-1, ...held) + 1 }
  const asked: number[] = []
  const node = { send: (_to: string, ms: Message[]) => { for (const m of ms) if (m.type === 'PleaseSendSegments') asked.push(m.from) }, timers: { random: () => 0 } }
  const context = { id: 'stream/x', log, node, edge: { startSegment: 0 } }
  const parents = { flowing: () => ['10.0.0.1:1'], hasFailedUs: () => false }
  const repairs = new RepairRequests({ context, parents, holders: { list: () => [] } } as unknown as RepairComponents)
  return { held, log, asked, repairs }
}

test('segment holes: the oldest is asked for, held records are not walked again, and a trim makes the walk start over', () => {
  const { held, log, asked, repairs } = setup()
  for (let n = 0; n < 40; n++) if (n !== 12) held.add(n)
  repairs.repairSegments(1000, 40)
  assert.deepEqual(asked, [12], 'the hole below the head')
  repairs.repairSegments(1200, 40)
  assert.deepEqual(asked, [12], 'at most one ask per 500 ms')
  held.add(12)
  repairs.repairSegments(1600, 40)
  assert.deepEqual(asked, [12], 'filled: nothing to ask')
  // The head grew; a record came out of order, so 45 is missing.
  for (let n = 40; n < 50; n++) if (n !== 45) held.add(n)
  repairs.repairSegments(1700, 50)
  assert.deepEqual(asked, [12, 45], 'a new hole above the records seen held')
  held.add(45)
  repairs.repairSegments(2300, 50)
  assert.deepEqual(asked, [12, 45])
  // Retention deleted a record inside the window (as a short --keep does) and raised the floor:
  // the walk cannot trust what it saw held before.
  held.delete(20)
  log.floor = 5
  repairs.repairSegments(2400, 50)
  assert.deepEqual(asked, [12, 45, 20], 'the record gone since the last pass is asked for again')
})
