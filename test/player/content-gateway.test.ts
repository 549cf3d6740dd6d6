// /content/<id> and the local API on two in-process nodes over real loopback UDP: a seeder sharing
// a file, and a gateway that fetches it on demand. Ranges answer with the exact bytes, a bad range
// with 416, and the API refuses foreign origins, cross-site callers and calls without the token,
// and never sends CORS headers.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Runtime } from '../../src/runtime.ts'
import { silentLogger } from '../../src/util/logger.ts'
import { rawRequest } from './http-client.ts'
import { gatewayPair } from '../helpers/gateway-pair.ts'

const SIZE = 3 * 1024 * 1024 + 123

const pair = (t: TestContext) => gatewayPair(t, SIZE)

test('/content/<id>: a file the node lacks is fetched on demand and served by range', async (t) => {
  const { body, id, base } = await pair(t)
  assert.equal(id, createHash('sha256').update(body).digest('hex'))
  const mid = await rawRequest(base, `/content/${id}`, { headers: { Range: 'bytes=1000000-1000999' } })
  assert.equal(mid.status, 206)
  assert.equal(mid.headers['content-range'], `bytes 1000000-1000999/${SIZE}`)
  assert.equal(mid.headers['content-length'], '1000')
  assert.ok(mid.body.equals(body.subarray(1000000, 1001000)))
  assert.ok(mid.headers['access-control-allow-origin'] === undefined, 'no CORS header')

  const tail = await rawRequest(base, `/content/${id}`, { headers: { Range: 'bytes=-100' } })
  assert.equal(tail.status, 206)
  assert.ok(tail.body.equals(body.subarray(SIZE - 100)))

  const open = await rawRequest(base, `/content/${id}`, { headers: { Range: `bytes=${SIZE - 10}-` } })
  assert.ok(open.body.equals(body.subarray(SIZE - 10)))

  const past = await rawRequest(base, `/content/${id}`, { headers: { Range: `bytes=${SIZE}-` } })
  assert.equal(past.status, 416)
  assert.equal(past.headers['content-range'], `bytes */${SIZE}`)
  const multi = await rawRequest(base, `/content/${id}`, { headers: { Range: 'bytes=0-1,5-6' } })
  assert.equal(multi.status, 416)

  const whole = await rawRequest(base, `/content/${id}?name=clip.mp4`)
  assert.equal(whole.status, 200)
  assert.ok(whole.body.equals(body))
  assert.equal(whole.headers['content-type'], 'video/mp4', 'the type follows the name the link carries')

  const head = await rawRequest(base, `/content/${id}`, { method: 'HEAD' })
  assert.equal(head.headers['content-length'], String(SIZE))
  assert.equal(head.headers['accept-ranges'], 'bytes')
  assert.equal(head.body.length, 0)

  const embedded = await rawRequest(base, `/content/${id}`, { headers: { 'Sec-Fetch-Site': 'cross-site' } })
  assert.equal(embedded.status, 403, 'a page on another site cannot make the node fetch')
  assert.equal((await rawRequest(base, '/content/not-an-id')).status, 404)
  assert.equal((await rawRequest(base, `/content/${id.toUpperCase()}`)).status, 404)
})

test('the seeder names the file: Content-Type and the index page use the shared name', async (t) => {
  const { id, seeder, dir } = await pair(t)
  await seeder.close()
  const rt = await Runtime.start({ dir: join(dir, 'seeder'), port: 0, httpPort: 0, logger: silentLogger, processMetrics: false })
  t.after(() => rt.close())
  const r = await rawRequest(rt.httpUrl!, `/content/${id}`, { headers: { Range: 'bytes=0-0' } })
  assert.equal(r.headers['content-type'], 'video/mp4')
  assert.equal(r.headers['x-cjp2p-verified'], 'yes', 'a complete shared file is verified')
  const index = await rawRequest(rt.httpUrl!, '/')
  assert.match(index.text, /movie\.mp4/)
  assert.ok(index.text.includes(`href="/watch/content/${id}?name=movie.mp4"`), 'the index links the file')
  const watch = await rawRequest(rt.httpUrl!, `/watch/content/${id}`)
  assert.ok(watch.text.includes(`<video id="video" controls playsinline preload="metadata" src="/content/${id}?name=movie.mp4">`))
})

test('the local API: reads for local callers, changes only with the token, never for another origin', async (t) => {
  const { id, base, token, gateway, dir, body } = await pair(t)
  const json = { 'content-type': 'application/json' }
  const start = JSON.stringify({ id })

  const foreign = await rawRequest(base, '/api/files', { headers: { Origin: 'http://attacker.example' } })
  assert.equal(foreign.status, 403)
  const crossSite = await rawRequest(base, '/api/files', { headers: { 'Sec-Fetch-Site': 'cross-site' } })
  assert.equal(crossSite.status, 403)
  const noToken = await rawRequest(base, '/api/fetches', { method: 'POST', headers: json, body: start })
  assert.equal(noToken.status, 401)
  const wrong = await rawRequest(base, '/api/fetches', { method: 'POST', headers: { ...json, 'x-cjp2p-token': 'x'.repeat(token.length) }, body: start })
  assert.equal(wrong.status, 401)
  const foreignWithToken = await rawRequest(base, '/api/fetches', { method: 'POST', headers: { ...json, 'x-cjp2p-token': token, Origin: 'http://attacker.example' }, body: start })
  assert.equal(foreignWithToken.status, 403, 'a foreign page is refused even with the token')
  const form = await rawRequest(base, '/api/fetches', { method: 'POST', headers: { 'content-type': 'text/plain', 'x-cjp2p-token': token }, body: start })
  assert.equal(form.status, 415, 'only JSON (a cross-origin page cannot send it without a preflight)')
  const preflight = await rawRequest(base, '/api/fetches', { method: 'OPTIONS', headers: { Origin: 'http://attacker.example', 'Access-Control-Request-Method': 'POST' } })
  assert.equal(preflight.headers['access-control-allow-origin'], undefined)
  assert.equal(preflight.headers['access-control-allow-headers'], undefined)
  assert.equal(gateway.fetches.get(id), undefined, 'no refused call started anything')

  const own = await rawRequest(base, '/api/fetches', { method: 'POST', headers: { ...json, 'x-cjp2p-token': token, Origin: base }, body: start })
  assert.ok(own.status === 202 || own.status === 200, `own origin with the token: ${own.status} ${own.text}`)
  await gateway.fetches.get(id)!.finished
  const files = JSON.parse((await rawRequest(base, '/api/files')).text) as { shared: Array<{ id: string; size: number }>; fetches: Array<{ id: string; state: string }> }
  assert.deepEqual(files.shared.map((f) => [f.id, f.size]), [[id, SIZE]])
  assert.deepEqual(files.fetches.map((f) => [f.id, f.state]), [[id, 'done']])
  assert.equal((await rawRequest(base, `/api/fetches/${id}`, { method: 'DELETE', headers: { 'x-cjp2p-token': token } })).status, 404, 'nothing running to cancel')

  const other = join(dir, 'other.bin')
  await writeFile(other, body.subarray(0, 5000))
  const shared = await rawRequest(base, '/api/share', { method: 'POST', headers: { ...json, 'x-cjp2p-token': token }, body: JSON.stringify({ path: other }) })
  assert.equal(shared.status, 200, shared.text)
  assert.equal((JSON.parse(shared.text) as { size: number }).size, 5000)
  const peers = JSON.parse((await rawRequest(base, '/api/peers')).text) as Array<{ addr: string }>
  assert.ok(peers.length >= 1)
})
