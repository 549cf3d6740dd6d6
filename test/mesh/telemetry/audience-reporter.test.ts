// The source's reporter with its swarm faked down to what it reads (a clock, its stripe-0 children,
// its totals): the per-child, per-epoch caps on delays a child sends up.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Ctx } from '../../../src/mesh/node.ts'
import type { MessageOf } from '../../../src/mesh/messages.ts'
import { AudienceReporter, SILENT_KID_MS, STALE_MS, type AudienceComponents } from '../../../src/mesh/telemetry/audience-reporter.ts'
import { EPOCH_MS, MAX_CHUNKS_PER_VIEWER, WINDOW_MS, emptySummary } from '../../../src/mesh/telemetry/audience-summary.ts'

function sourceReporter() {
  const clock = { t: Date.UTC(2026, 0, 1) }
  const stripe0 = new Set<string>()
  // When each peer was last heard from (any datagram): a child that left abruptly stops here.
  const heard = new Map<string, number>()
  const components = {
    context: {
      id: 'stream/x', isSource: true, role: 'source', sourceAddrs: new Set<string>(),
      node: { timers: { now: () => clock.t, random: () => 0.5 }, nat: { kind: 'none' }, send: () => 1, peers: { get: (a: string) => (heard.has(a) ? { lastHeard: heard.get(a) } : undefined) } },
      log: { chunkRecord: () => undefined, hasChunk: () => false },
      edge: { joinedAt: 0, startChunk: 0, maxKnown: 0 },
    },
    stats: { totals: { receivedBytes: 0, uploadedBytes: 0, receivedFromSourceBytes: 0 } },
    children: { of: () => stripe0 },
    parents: { parent: () => undefined },
  } as unknown as AudienceComponents
  return { reporter: new AudienceReporter(components), clock, stripe0, heard }
}

const delaysIn = (r: AudienceReporter) => r.view().delay.reduce((t, [, n]) => t + n, 0)

test('a child that leaves and rejoins cannot send the same epoch\'s delays again past its cap', () => {
  const { reporter, clock, stripe0, heard } = sourceReporter()
  const liar = '127.0.0.1:4000'
  const ctx = { from: liar } as Ctx
  const epoch = Math.floor(clock.t / EPOCH_MS) - 2
  // One viewer's worth of one epoch (the source, too young to know the stream's rate, allows
  // MAX_CHUNKS_PER_VIEWER per window), claimed in full every time.
  const cap = Math.ceil((MAX_CHUNKS_PER_VIEWER * EPOCH_MS) / WINDOW_MS)
  const msg: MessageOf<'HereIsMyAudience'> = {
    type: 'HereIsMyAudience', id: 'stream/x',
    audience: { ...emptySummary(), viewers: 1, byDepth: [1], fresh: [[epoch, 10, [cap]]] },
  }
  for (let cycle = 0; cycle < 5; cycle++) {
    stripe0.add(liar)
    heard.set(liar, clock.t)
    reporter.onAudience(msg, ctx)
    reporter.onAudience(msg, ctx) // again at once: capped already before this fix
    clock.t += 500
    stripe0.delete(liar) // leaves...
    reporter.tick(clock.t)
    clock.t += 500 // ...and comes back next cycle
  }
  // Fill the source's smoothing window with views taken after the last cycle.
  for (let i = 0; i < 10; i++) {
    clock.t += 250
    reporter.tick(clock.t)
  }
  assert.equal(delaysIn(reporter), cap, `five leave/rejoin cycles counted ${delaysIn(reporter)} chunks of one epoch, cap ${cap}`)
})

test('a child that went silent stops counting within SILENT_KID_MS, before the stream forgets it', () => {
  const { reporter, clock, stripe0, heard } = sourceReporter()
  const gone = '127.0.0.1:4001'
  const stays = '127.0.0.1:4002'
  const counts = (viewers: number): MessageOf<'HereIsMyAudience'> => ({ type: 'HereIsMyAudience', id: 'stream/x', audience: { viewers, byDepth: [1, 4, viewers - 5].filter((n) => n > 0) }, counts: true })
  const step = (ms: number, live: string[]) => {
    for (let t = 0; t < ms; t += 250) {
      clock.t += 250
      // The live child re-subscribes (heard) every 2 s and reports its counts every 4 s, as a quiet one does.
      for (const a of live) if ((clock.t / 250) % 8 === 0) heard.set(a, clock.t)
      for (const a of live) if ((clock.t / 250) % 16 === 0) reporter.onAudience(counts(5), { from: a } as Ctx)
      reporter.tick(clock.t)
    }
  }
  for (const a of [gone, stays]) { stripe0.add(a); heard.set(a, clock.t) }
  reporter.onAudience(counts(20), { from: gone } as Ctx)
  reporter.onAudience(counts(5), { from: stays } as Ctx)
  step(3000, [gone, stays])
  assert.equal(reporter.view().viewers, 25)
  // `gone` leaves abruptly: nothing more from it, while the stream still holds it as a child (it
  // does for CHILD_EXPIRY_MS, and here for the whole test), and its last summary is not STALE_MS old.
  const leftAt = clock.t
  step(SILENT_KID_MS + 2500, [stays])
  assert.ok(stripe0.has(gone) && clock.t - leftAt < STALE_MS)
  assert.equal(reporter.view().viewers, 5, `${reporter.view().viewers} counted ${clock.t - leftAt} ms after a 20-viewer subtree left`)
  // The child that stayed, heard from every 2 s, was never dropped.
  assert.equal(reporter.view().reporters, 1)
})
