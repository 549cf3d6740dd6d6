// A parent's grants (AudienceGrants) in its first seconds, when its stream rate is read over a
// window mostly from before its stream came.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encodedSize, type MessageOf } from '../../../src/mesh/messages.ts'
import { AudienceGrants, KIDS_SHARE, SOURCE_KIDS_SHARE, UP_SHARE } from '../../../src/mesh/telemetry/audience-grants.ts'

test('a parent whose rate allows nothing yet grants nothing, then each child its share as the stream comes', () => {
  const sent: Array<{ to: string; m: MessageOf<'TellMeYourAudienceAtMost'> }> = []
  const grants = new AudienceGrants({ id: 'stream/x', send: (to, m) => { sent.push({ to, m }); return true }, heardAt: () => -Infinity, viewers: () => undefined })
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

/** Each child keeps at least half its even share whatever its siblings claim (EVEN_SPLIT). */
const FLOOR = 0.5

/** A parent at 1 Mb/s (125,000 B/s) for two rate steps, its children carrying `viewers` each: the
 * last grant each child was sent. */
function granted(viewers: Record<string, number>): Map<string, number> {
  const last = new Map<string, number>()
  const grants = new AudienceGrants({ id: 'stream/x', send: (to, m) => { last.set(to, m.bytesPerSecond); return true }, heardAt: () => -Infinity, viewers: (a) => viewers[a] })
  const children = new Set(Object.keys(viewers))
  for (let s = 0; s <= 10; s++) grants.tick(s * 1000, s * 125_000, children)
  return last
}

test('a child carrying a large subtree is granted more than its leaf siblings, within KIDS_SHARE in all, and each leaf keeps its floor', () => {
  // As at seed 2 of `simulate --audience --viewers 200 --bitrate 1M`: a relay with 118 viewers below
  // it among five leaves. Split evenly, it had the leaves' 125 B/s, its counts waited 1.4 s at each
  // hop, and the source counted 187 of 200 ten seconds after the joins.
  const g = granted({ relay: 118, a: 1, b: 1, c: 1, d: 1, e: 1 })
  const total = [...g.values()].reduce((t, x) => t + x, 0)
  const even = (KIDS_SHARE * 125_000) / 6
  assert.ok(g.get('relay')! >= 1.8 * even, `relay granted ${g.get('relay')} B/s, a leaf ${g.get('a')} B/s (even share ${even.toFixed(2)})`)
  // No more than it may send up: the rest goes to its siblings.
  assert.ok(g.get('relay')! <= UP_SHARE * 125_000, `relay granted ${g.get('relay')} B/s`)
  for (const a of 'abcde') assert.ok(g.get(a)! >= FLOOR * even, `leaf ${a} granted ${g.get(a)} B/s`)
  assert.ok(total <= KIDS_SHARE * 125_000 + 0.01, `granted ${total} B/s in all`)
})

test('a liar claiming a million viewers takes no more than one child may send up, and its siblings keep their floor', () => {
  const g = granted({ liar: 1_000_000, relay: 40, a: 1, b: 1, c: 1, d: 1, e: 1, f: 1 })
  const even = (KIDS_SHARE * 125_000) / 8
  assert.ok(g.get('liar')! <= UP_SHARE * 125_000, `liar granted ${g.get('liar')} B/s`)
  for (const a of ['relay', ...'abcdef']) assert.ok(g.get(a)! >= FLOOR * even, `${a} granted ${g.get(a)} B/s`)
  // The honest relay still gets more than a leaf.
  assert.ok(g.get('relay')! > g.get('a')!, `relay ${g.get('relay')} B/s, leaf ${g.get('a')} B/s`)
  assert.ok([...g.values()].reduce((t, x) => t + x, 0) <= KIDS_SHARE * 125_000 + 0.01)
})

test("a relay's join catch-up does not raise its children's grants past KIDS_SHARE of the stream", () => {
  // At 1 Mb/s a joining relay took 2.6 times the stream's rate over its first second. Read over its
  // 10 s window, that granted its 6 children 1.4 times KIDS_SHARE of the stream; the lowered grants
  // waited on the grants' bucket as the catch-up left the window, and the relay spent 1.11-1.28 %
  // of its stream bytes on telemetry (50 real viewer processes). The stream's own rate bounds it.
  const STREAM = 125_000
  const told = new Map<string, number>()
  const grants = new AudienceGrants({ id: 'stream/x', send: (to, m) => { told.set(to, m.bytesPerSecond); return true }, heardAt: () => -Infinity, viewers: () => undefined, streamBps: () => STREAM })
  const children = new Set(Array.from({ length: 6 }, (_, i) => `10.0.0.${i + 2}:4000`))
  let bytes = 0
  grants.tick(0, bytes, children)
  for (let t = 50; t <= 20_000; t += 50) {
    bytes += ((t <= 1000 ? 2.6 : 1) * STREAM) / 20
    grants.tick(t, bytes, children)
    const sum = [...told.values()].reduce((a, x) => a + x, 0)
    // A grant is sent again only once its share moved by more than GRANT_SLACK (25 %).
    assert.ok(sum <= 1.25 * KIDS_SHARE * STREAM, `${t} ms: ${sum.toFixed(0)} B/s granted, KIDS_SHARE of the stream ${KIDS_SHARE * STREAM} B/s`)
  }
  assert.equal(told.size, children.size)
})

test('a child that still names the stream by its id after our tagged grant is granted again, and an older build that never reads the tag only UNTAGGED_TRIES times', () => {
  // The grant lost (or come before the child took us as its parent): the child spoke since, so
  // the "said nothing since" retry never fired, and it sent on at half its budget, by id.
  const run = (switchesAfter: number) => {
    const sent: number[] = []
    let heard = -Infinity
    let byId = true
    const grants = new AudienceGrants({
      id: 'stream/x', tag: 4,
      send: (_to, m) => { assert.equal(m.tag, 4); sent.push(m.bytesPerSecond); return true },
      heardAt: () => heard, namedById: () => byId, viewers: () => 1,
    })
    const child = new Set(['10.0.0.2:4000'])
    for (let t = 0; t <= 30_000; t += 500) {
      // The child speaks every 500 ms; from its `switchesAfter`-th grant on, by our tag.
      heard = t
      byId = sent.length < switchesAfter
      grants.tick(t, (t / 1000) * 125_000, child)
    }
    return sent.length
  }
  // Its first grant lost: one more, and the child names the stream by the tag from then on.
  assert.equal(run(2), 2)
  // Never by the tag (a build from before the tags): three grants, then no more.
  assert.equal(run(Infinity), 3)
  // Got the first: one grant, no retry.
  assert.equal(run(1), 1)
})

test('a child that names the stream by our tag is granted again by the tag alone if it takes one; a newcomer, a child naming it by its id and a build that takes none get the id', () => {
  // A grant with the id is 167 bytes; at 500 kb/s the grants' bucket pays some 31 B/s, one such
  // grant each 5.4 s, and a relay's new children waited 10-20 s for theirs.
  const ID = `stream/${'k'.repeat(90)}`
  const sent: Array<{ to: string; m: MessageOf<'TellMeYourAudienceAtMost'> }> = []
  const byTag = new Set<string>()
  const grants = new AudienceGrants({
    id: ID, tag: 4, send: (to, m) => { sent.push({ to, m }); return true },
    heardAt: () => t, namedById: (a) => (byTag.has(a) ? false : a === 'old:1' ? true : undefined), viewers: () => 1,
    // mid:1 names the stream by the tag but drops a grant without the id (a build before GRANT_BY_TAG).
    takesTagGrant: (a) => a !== 'mid:1',
  })
  const kids = new Set(['new:1', 'old:1', 'mid:1'])
  const STREAM = 62_500
  // Both children speak all the time (no retry for silence).
  let t = 0
  for (; t <= 4000; t += 250) grants.tick(t, (t / 1000) * STREAM, kids)
  // Each child's first grant names the stream by its id (and gives the tag).
  for (const a of kids) assert.deepEqual([sent.find((s) => s.to === a)?.m.id, sent.find((s) => s.to === a)?.m.tag], [ID, 4], a)
  byTag.add('new:1')
  byTag.add('mid:1')
  // Four more children: each sibling's share falls by more than GRANT_SLACK.
  for (const k of ['c:1', 'd:1', 'e:1', 'f:1']) kids.add(k)
  sent.length = 0
  for (; t <= 30_000; t += 250) grants.tick(t, (t / 1000) * STREAM, kids)
  const to = (a: string) => sent.filter((s) => s.to === a).map((s) => s.m)
  assert.ok(to('new:1').length > 0 && to('new:1').every((m) => m.id === undefined && m.tag === 4), JSON.stringify(to('new:1')))
  assert.ok(encodedSize(to('new:1')[0]) < 80, `${encodedSize(to('new:1')[0])} bytes`)
  // An older build's child, which names the stream by its id, and the newcomers get the id.
  assert.ok(to('old:1').length > 0 && to('old:1').every((m) => m.id === ID), JSON.stringify(to('old:1')))
  assert.ok(to('mid:1').length > 0 && to('mid:1').every((m) => m.id === ID && m.tag === 4), JSON.stringify(to('mid:1')))
  for (const k of ['c:1', 'd:1', 'e:1', 'f:1']) assert.equal(to(k)[0]?.id, ID, k)
})

test('the source grants each of its children in the four stripes what it may send up, SOURCE_KIDS_SHARE in all; a relay splits KIDS_SHARE', () => {
  // The telemetry climbs each viewer's highest stripe, so the source's children in all four carry
  // the audience between them. Split from KIDS_SHARE, each had some 78 B/s at 500 kb/s, and its
  // counts took all of it: the source read no delays at 1,000 viewers.
  const last = (isSource: boolean) => {
    const told = new Map<string, number>()
    const grants = new AudienceGrants({ id: 'stream/x', isSource, send: (to, m) => { told.set(to, m.bytesPerSecond); return true }, heardAt: () => -Infinity, viewers: () => 250 })
    const children = new Set(['10.0.0.2:4000', '10.0.0.3:4000', '10.0.0.4:4000', '10.0.0.5:4000'])
    for (let s = 0; s <= 10; s++) grants.tick(s * 1000, s * 62_500, children)
    return [...told.values()]
  }
  const atSource = last(true)
  assert.equal(atSource.length, 4)
  for (const bps of atSource) assert.ok(Math.abs(bps - UP_SHARE * 62_500) < 1, `the source granted ${bps} B/s`)
  assert.ok(Math.abs(atSource.reduce((a, b) => a + b, 0) - SOURCE_KIDS_SHARE * 62_500) < 4)
  const atRelay = last(false)
  assert.ok(Math.abs(atRelay.reduce((a, b) => a + b, 0) - KIDS_SHARE * 62_500) < 4, `a relay granted ${atRelay.join(', ')} B/s`)
})
