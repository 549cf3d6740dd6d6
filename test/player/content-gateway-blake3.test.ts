// /content/blake3/<root> on an in-process gateway over real loopback UDP: while the file is still
// arriving, every range it serves is verified (each block matched the file's tree before it was
// written), so it says X-Cjp2p-Verified: yes and --verified-only serves it; a SHA-256 id's range
// in the same state is refused with 503.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rawRequest } from './http-client.ts'
import { gatewayPair } from '../helpers/gateway-pair.ts'

const SIZE = 8 * 1024 * 1024 + 77

test('a blake3/ download in progress is served as verified, also under --verified-only; a sha256 one is not', async (t) => {
  // A 1 MiB/s downlink: the whole file takes 8 s, a range in the middle comes long before.
  const { body, id, blake3, base, api } = await gatewayPair(t, SIZE, { verifiedOnly: true, link: { delayMs: 1, loss: 0, bytesPerSecond: 1024 * 1024 } })
  const mid = await rawRequest(base, `/content/${blake3}`, { headers: { Range: 'bytes=4000000-4000999' } })
  assert.equal(mid.status, 206, mid.text)
  assert.equal(mid.headers['x-cjp2p-verified'], 'yes')
  assert.ok(mid.body.equals(body.subarray(4000000, 4001000)))
  const state = await rawRequest(api, `/api/fetches/${blake3}`)
  assert.equal(state.status, 200, state.text)
  assert.equal((JSON.parse(state.text) as { state: string }).state, 'downloading', 'the range came while the file was still arriving')

  const sha = await rawRequest(base, `/content/${id}`, { headers: { Range: 'bytes=0-99' } })
  assert.equal(sha.status, 503, 'a sha256 id in progress is not verified: refused under --verified-only')
  assert.equal(sha.headers['x-cjp2p-verified'], 'no')

  const watch = await rawRequest(base, `/watch/content/${blake3}`)
  assert.equal(watch.status, 200)
  assert.match(watch.text, new RegExp(`src="/content/${blake3}"`))
  assert.equal((await rawRequest(base, `/content/blake3/${'AB'.repeat(32)}`)).status, 404)
})
