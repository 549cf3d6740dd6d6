// Decode limits of the newest message fields: the catch-up hand-over's `handOver` (AskThemInstead)
// and `catchUpBy` (IWillKeepSendingYou), the telemetry's `reports` (PleaseKeepSendingMe), and the telemetry grant's `bytesPerSecond`
// (TellMeYourAudienceAtMost), the stream tag a grant gives and a summary names its stream by, and the birthday punch's `PunchMet`. Hostile values never throw; an optional field that is not what it
// must be is dropped alone (the redirect or the yes still stands, as before these fields), a bad
// grant drops the message, counted as bad (the node's `bad_message` drop reason).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_GRANT_BPS, MAX_INDEX, MAX_STREAM_TAG, decodeDatagram, encodedSize, type Message, type MessageOf } from '../../src/mesh/messages.ts'
import { AudienceGrants } from '../../src/mesh/telemetry/audience-grants.ts'

const ID = 'stream/ab/sky'
const decode = (type: string, body: Record<string, unknown>) => {
  const r = decodeDatagram(Buffer.from(JSON.stringify([{ [type]: body }])))
  assert.ok(r.ok)
  return { m: r.messages[0] as (Message & Record<string, unknown>) | undefined, bad: r.skipped.bad }
}
const hostile: unknown[] = [-1, 1.5, '12', null, true, {}, [], MAX_INDEX + 1, 2 ** 53, 1e308, -0.5, 'x'.repeat(300), [1, 2]]

test('AskThemInstead.handOver: an index up to MAX_INDEX, else dropped alone and the redirect stands', () => {
  for (const handOver of [0, 7, MAX_INDEX]) assert.equal(decode('AskThemInstead', { id: ID, stripe: 1, peers: ['10.0.0.1:4000'], handOver }).m?.handOver, handOver)
  for (const handOver of hostile) {
    const { m, bad } = decode('AskThemInstead', { id: ID, stripe: 1, peers: ['10.0.0.1:4000'], handOver })
    assert.equal(bad, 0, JSON.stringify(handOver))
    assert.deepEqual(m, { type: 'AskThemInstead', id: ID, stripe: 1, peers: ['10.0.0.1:4000'] }, JSON.stringify(handOver))
  }
  // A redirect without its stripe is no redirect, handOver or not.
  assert.equal(decode('AskThemInstead', { id: ID, stripe: 4, peers: [], handOver: 3 }).bad, 1)
})

test('IWillKeepSendingYou.catchUpBy: an address, else dropped alone and the yes stands', () => {
  assert.equal(decode('IWillKeepSendingYou', { id: ID, stripe: 2, catchUpBy: '[2001:db8::1]:4000' }).m?.catchUpBy, '[2001:db8::1]:4000')
  for (const catchUpBy of [...hostile, '10.0.0.1', '10.0.0.1:0', '10.0.0.1:70000', '300.0.0.1:4000', `10.0.0.1:4000${' '.repeat(60)}`, '[::1]:4000'.repeat(8)]) {
    const { m, bad } = decode('IWillKeepSendingYou', { id: ID, stripe: 2, catchUpBy })
    assert.equal(bad, 0, JSON.stringify(catchUpBy))
    assert.deepEqual(m, { type: 'IWillKeepSendingYou', id: ID, stripe: 2 }, JSON.stringify(catchUpBy))
  }
})

test('PleaseKeepSendingMe.reports: true alone says so; anything else is dropped alone and the subscription stands', () => {
  assert.equal(decode('PleaseKeepSendingMe', { id: ID, stripe: 2, from: 5, reports: true }).m?.reports, true)
  for (const reports of [...hostile.filter((v) => v !== true), false, 'true', 1]) {
    const { m, bad } = decode('PleaseKeepSendingMe', { id: ID, stripe: 2, from: 5, reports })
    assert.equal(bad, 0, JSON.stringify(reports))
    assert.deepEqual(m, { type: 'PleaseKeepSendingMe', id: ID, stripe: 2, from: 5 }, JSON.stringify(reports))
  }
})

test('PunchMet: an address, else the message is dropped as bad', () => {
  assert.deepEqual(decode('PunchMet', { peer: '203.0.113.5:4000' }).m, { type: 'PunchMet', peer: '203.0.113.5:4000' })
  for (const peer of [...hostile, '10.0.0.1', '10.0.0.1:0', '300.0.0.1:4000', '[::1]:4000'.repeat(8)]) {
    const { m, bad } = decode('PunchMet', { peer })
    assert.equal(m, undefined, JSON.stringify(peer))
    assert.equal(bad, 1, JSON.stringify(peer))
  }
})

test('TellMeYourAudienceAtMost.bytesPerSecond: 0 to MAX_GRANT_BPS, hundredths too; anything else drops the grant as bad', () => {
  for (const bytesPerSecond of [0, 0.01, 0.94, 117, MAX_GRANT_BPS]) assert.equal(decode('TellMeYourAudienceAtMost', { id: ID, bytesPerSecond }).m?.bytesPerSecond, bytesPerSecond)
  // 1e308 passed before: a grant no parent computes.
  for (const bytesPerSecond of [-1, '12', null, true, {}, [], 1e308, -0.5, [1, 2], MAX_GRANT_BPS + 1, 2 ** 53, undefined]) {
    const { m, bad } = decode('TellMeYourAudienceAtMost', { id: ID, bytesPerSecond })
    assert.equal(m, undefined, JSON.stringify(bytesPerSecond))
    assert.equal(bad, 1, JSON.stringify(bytesPerSecond))
  }
  assert.equal(decode('TellMeYourAudienceAtMost', { id: 7, bytesPerSecond: 5 }).bad, 1)
})

test('a grant a parent computes from any stream rate is one its child decodes', () => {
  // One child and a rate sample that jumped (a catch-up burst inside one step): the share is capped
  // at what the decoder accepts, else the grant would be dropped as bad and the child left with none.
  const sent: Array<MessageOf<'TellMeYourAudienceAtMost'>> = []
  const grants = new AudienceGrants({ id: ID, send: (_to, m) => { sent.push(m); return true }, heardAt: () => -Infinity, viewers: () => undefined })
  const child = new Set(['10.0.0.2:4000'])
  grants.tick(0, 0, child)
  grants.tick(1000, 1e12, child)
  assert.ok(sent.length > 0, 'no grant sent')
  for (const m of sent) assert.equal(decode('TellMeYourAudienceAtMost', { id: ID, bytesPerSecond: m.bytesPerSecond }).bad, 0, String(m.bytesPerSecond))
})

test('a stream tag: 0 to MAX_STREAM_TAG; on a grant a bad one is dropped alone, a summary without its id or a good tag is bad', () => {
  const audience = { viewers: 1, byDepth: [1] }
  for (const tag of [0, 7, MAX_STREAM_TAG]) {
    assert.equal(decode('TellMeYourAudienceAtMost', { id: ID, bytesPerSecond: 5, tag }).m?.tag, tag)
    const { m } = decode('HereIsMyAudience', { tag, audience, counts: true })
    assert.equal(m?.tag, tag)
    assert.equal(m?.id, undefined)
  }
  for (const tag of [-1, 1.5, '3', null, MAX_STREAM_TAG + 1, 2 ** 53, [], {}]) {
    const grant = decode('TellMeYourAudienceAtMost', { id: ID, bytesPerSecond: 5, tag })
    assert.equal(grant.bad, 0, JSON.stringify(tag))
    assert.equal(grant.m?.bytesPerSecond, 5)
    assert.equal('tag' in (grant.m ?? {}), false, JSON.stringify(tag))
    assert.equal(decode('HereIsMyAudience', { tag, audience }).bad, 1, JSON.stringify(tag))
  }
  // An id names the stream whatever tag comes with it; the tag goes (the stream is named once).
  const both = decode('HereIsMyAudience', { id: ID, tag: 3, audience }).m
  assert.equal(both?.id, ID)
  assert.equal(both?.tag, undefined)
  assert.equal(decode('HereIsMyAudience', { audience }).bad, 1)
})

test('a grant by its tag alone: a good tag and no id; with neither, or a bad tag and no id, it is bad', () => {
  const alone = decode('TellMeYourAudienceAtMost', { tag: 9, bytesPerSecond: 61.5 })
  assert.deepEqual([alone.bad, alone.m?.tag, alone.m?.id, alone.m?.bytesPerSecond], [0, 9, undefined, 61.5])
  for (const b of [{ bytesPerSecond: 5 }, { tag: -1, bytesPerSecond: 5 }, { tag: MAX_STREAM_TAG + 1, bytesPerSecond: 5 }, { id: 7, tag: 3, bytesPerSecond: 5 }, { tag: 3, bytesPerSecond: -1 }]) {
    assert.equal(decode('TellMeYourAudienceAtMost', b).bad, 1, JSON.stringify(b))
  }
})

test("a summary's receiver measures it at its bytes on the wire: the counts alone stay the counts alone", () => {
  // Filled out to a whole summary on decoding, counts of 89 bytes were measured at 216 by their
  // receiver, and its telemetry read 2.4 times what came.
  const sent: Array<Record<string, unknown>> = [
    { tag: 3, audience: { viewers: 12, byDepth: [1, 5, 6] }, counts: true },
    { tag: 3, audience: { viewers: 12, byDepth: [1, 5, 6], suspect: 2 }, counts: true },
    { id: ID, audience: { viewers: 12, byDepth: [1, 5, 6], onTime: 300, late: 2, missed: 0, delay: [[3, 10], [5, 200]], stalls: 0, stallSeconds: 0, up: 123456, down: 234567, fromSource: 0, versions: { '0.1.0': 12 }, suspect: 0, fresh: [[353445121, 10, [5, 0, 0, 23, 102]]] } },
  ]
  for (const body of sent) {
    const { m, bad } = decode('HereIsMyAudience', body)
    assert.equal(bad, 0)
    assert.equal(encodedSize(m as Message), encodedSize({ type: 'HereIsMyAudience', ...body } as Message), JSON.stringify(m))
  }
  // Counts that lie are still cut to the caps: a claim past what the tree's shape allows is flagged.
  const lie = decode('HereIsMyAudience', { tag: 3, audience: { viewers: 1e9, byDepth: [1, 1e9] }, counts: true }).m as MessageOf<'HereIsMyAudience'>
  assert.ok(lie.audience.viewers < 1e9 && (lie.audience as { suspect?: number }).suspect! > 0, JSON.stringify(lie.audience))
})
