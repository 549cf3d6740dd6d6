import { test } from 'node:test'
import assert from 'node:assert/strict'
import { resolveFfmpeg, resolveFfprobe } from '../../src/ingest/ffmpeg-binary.ts'
import { IngestError } from '../../src/ingest/ingest-error.ts'

const isCode = (code: string) => (e: unknown) => e instanceof IngestError && e.code === code

test('an explicit path wins over env and PATH', async () => {
  const env = { PATH: process.env.PATH, FFMPEG_PATH: '/nonexistent/ffmpeg' }
  const r = await resolveFfmpeg({ explicit: '/usr/bin/ffmpeg', env })
  assert.deepEqual([r.path, r.source], ['/usr/bin/ffmpeg', 'flag'])
  assert.match(r.version, /^ffmpeg version/)
})

test('FFMPEG_PATH wins over PATH', async () => {
  const r = await resolveFfmpeg({ env: { PATH: '', FFMPEG_PATH: '/usr/bin/ffmpeg' } })
  assert.deepEqual([r.path, r.source], ['/usr/bin/ffmpeg', 'env'])
})

test('ffmpeg on PATH when nothing explicit', async () => {
  const r = await resolveFfmpeg({ env: { PATH: process.env.PATH } })
  assert.equal(r.source, 'path')
  assert.equal(r.path, 'ffmpeg')
})

test('the bundled @ffmpeg-installer binary when PATH has none', async () => {
  const r = await resolveFfmpeg({ env: { PATH: '/nonexistent' } })
  assert.equal(r.source, 'bundled')
  assert.match(r.path, /@ffmpeg-installer/)
  assert.match(r.version, /ffmpeg version/)
})

test('a broken explicit path or env var is ERR_NO_FFMPEG with install advice, not a silent fallback', async () => {
  await assert.rejects(resolveFfmpeg({ explicit: '/nonexistent/ffmpeg' }), (e: Error) => isCode('ERR_NO_FFMPEG')(e) && /apt-get install -y ffmpeg/.test(e.message))
  await assert.rejects(resolveFfmpeg({ explicit: '/bin/false' }), isCode('ERR_NO_FFMPEG'))
  await assert.rejects(resolveFfmpeg({ env: { PATH: process.env.PATH, FFMPEG_PATH: '/nonexistent/ffmpeg' } }), (e: Error) => isCode('ERR_NO_FFMPEG')(e) && /FFMPEG_PATH/.test(e.message))
})

test('ffprobe: PATH, else next to ffmpeg, else ERR_NO_FFPROBE', async () => {
  assert.equal((await resolveFfprobe({ env: { PATH: process.env.PATH } })).source, 'path')
  const beside = await resolveFfprobe({ env: { PATH: '/nonexistent' }, besideFfmpeg: '/usr/bin/ffmpeg' })
  assert.equal(beside.path, '/usr/bin/ffprobe')
  await assert.rejects(resolveFfprobe({ env: { PATH: '/nonexistent' } }), isCode('ERR_NO_FFPROBE'))
})
