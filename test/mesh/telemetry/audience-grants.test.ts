// A parent's grants (AudienceGrants) in its first seconds, when its stream rate is read over a
// window mostly from before its stream came.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { MessageOf } from '../../../src/mesh/messages.ts'
import { AudienceGrants } from '../../../src/mesh/telemetry/audience-grants.ts'

test('a parent whose rate allows nothing yet grants nothing, then each child its share as the stream comes', () => {
  const sent: Array<{ to: string; m: MessageOf<'TellMeYourAudienceAtMost'> }> = []
  const grants = new AudienceGrants({ id: 'stream/x', send: (to, m) => { sent.push({ to, m }); return true }, heardAt: () => -Infinity })
  const children = new Set(Array.from({ length: 9 }, (_, i) => `10.0.0.${i + 2}:4000`))
  // Its first second brought 10 bytes: a share of 0 for each of 9 children. Granted, a 0 silenced
  // each child until its next grant, and at 1 Mb/s the grants' bucket pays one a 2 s: the last of 9
  // relays' children was still silent, uncounted, 17 s later in the simulator.
  grants.tick(0, 0, children)
  grants.tick(1000, 10, children)
  assert.deepEqual(sent.map(({ m }) => m.bytesPerSecond), [])
  // The stream comes (1 Mb/s): every child is granted a share, none of them 0.
  grants.tick(2000, 125_010, children)
  assert.deepEqual(new Set(sent.map(({ to }) => to)), children)
  assert.ok(sent.every(({ m }) => m.bytesPerSecond > 0), JSON.stringify(sent.map(({ m }) => m.bytesPerSecond)))
})
