// Our server against a client that writes datagrams exactly as the Rust reference client does:
// its cookie request, its RTT probe, one 4096-byte PleaseSendContent per datagram with our cookie
// echoed, and its rule for counting a block (4096 bytes, or ending exactly at eof).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileNode, sha256, shareRandom } from '../helpers/file-swarm.ts'
import { RawPeer } from '../helpers/raw-peer.ts'
import type { Raw } from '../helpers/raw-peer.ts'
import { until } from '../helpers/swarm.ts'

const BLOCK = 4096

/** Fetches a whole file the way the reference client does, a few blocks in flight, re-asking after silence. */
async function fetchLikeRust(p: RawPeer, id: string, eof: number): Promise<Buffer> {
  const blocks = Math.ceil(eof / BLOCK)
  const out = Buffer.alloc(eof)
  const have = new Set<number>()
  const asked = new Map<number, number>()
  let seen = 0
  const deadline = Date.now() + 60_000
  while (have.size < blocks) {
    assert.ok(Date.now() < deadline, 'fetch timed out')
    for (const d of p.received.slice(seen)) {
      for (const m of d.messages) {
        const c = m.Content as Raw | undefined
        if (!c || c.id !== id) continue
        assert.equal(c.eof, eof, 'every Content carries eof')
        const data = Buffer.from(c.base64 as string, 'base64')
        const off = c.offset as number
        if (data.length === BLOCK || off + data.length === eof) { data.copy(out, off); have.add(off / BLOCK); asked.delete(off / BLOCK) }
      }
    }
    seen = p.received.length
    const now = Date.now()
    for (const [b, at] of asked) if (now - at > 1000) asked.delete(b)
    for (let b = 0; b < blocks && asked.size < 8; b++) {
      if (have.has(b) || asked.has(b)) continue
      asked.set(b, now)
      await p.send([{ PleaseSendContent: { id, length: BLOCK, offset: b * BLOCK } }, { AlwaysReturned: p.theirCookie as Raw }])
    }
    await new Promise((r) => setTimeout(r, 2))
  }
  return out
}

test('a current-era Rust client: cookie {"cookie":"<8 hex>"}, RTT probe, 4096 bytes at a time, whole file correct', async (t) => {
  const a = await fileNode(t)
  const size = 300_001
  const f = await shareRandom(t, size, a)
  const p = await RawPeer.open(t, a.node.address)
  await p.send([
    { PleaseAlwaysReturnThisMessage: { cookie: '0badf00d' } },
    { PleaseSendContent: { id: f.id, length: BLOCK, offset: 0 } },
    { PleaseReturnThisMessage: { sent_at: 1763700000.25 } },
  ])
  const first = await until(() => p.received[0], 5000, 'first reply')
  const byType = Object.fromEntries(first.messages.map((m) => [Object.keys(m)[0], Object.values(m)[0]]))
  assert.deepEqual(byType.AlwaysReturned, { cookie: '0badf00d' }, 'our cookie echoed verbatim')
  assert.match((byType.PleaseAlwaysReturnThisMessage as Raw).cookie as string, /^[0-9a-f]{8}$/, 'its cookie in the shape Rust echoes')
  assert.deepEqual(byType.ReturnedMessage, { sent_at: 1763700000.25 })
  assert.equal((byType.Content as Raw).eof, size)
  assert.ok(Buffer.from((byType.Content as Raw).base64 as string, 'base64').length <= 32, 'an unproven address gets a taste only')
  const bytes = await fetchLikeRust(p, f.id, size)
  assert.equal(sha256(bytes), f.id)
  for (const d of p.received) assert.ok(Buffer.byteLength(d.text) <= 5888, `a ${Buffer.byteLength(d.text)}-byte datagram to a foreign client`)
})

test('a seed-era Rust client: cookie {"key":123} is echoed as given and the file arrives', async (t) => {
  const a = await fileNode(t)
  const f = await shareRandom(t, 9000, a)
  const p = await RawPeer.open(t, a.node.address)
  await p.send([{ PleaseAlwaysReturnThisMessage: { key: 123 } }, { PleaseSendContent: { id: f.id, length: BLOCK, offset: 0 } }])
  const reply = await p.waitFor('AlwaysReturned')
  assert.deepEqual(reply, { key: 123 })
  const bytes = await fetchLikeRust(p, f.id, 9000)
  assert.equal(sha256(bytes), f.id)
})
