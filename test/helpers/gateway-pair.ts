// Two in-process nodes over real loopback UDP for the gateway tests: a seeder sharing a random file
// (both its ids), and a gateway with an HTTP endpoint that knows the seeder.
import type { TestContext } from 'node:test'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Runtime, type RuntimeOptions } from '../../src/runtime.ts'
import { silentLogger } from '../../src/util/logger.ts'
import { tempDir } from './stream-fixture.ts'

export async function gatewayPair(t: TestContext, size: number, gatewayOpts: Partial<RuntimeOptions> = {}) {
  const dir = await tempDir(t)
  const body = randomBytes(size)
  const path = join(dir, 'movie.mp4')
  await writeFile(path, body)
  const seeder = await Runtime.start({ dir: join(dir, 'seeder'), port: 0, httpPort: null, logger: silentLogger, processMetrics: false })
  t.after(() => seeder.close())
  const { id, blake3 } = await seeder.files.shareFile(path)
  const gateway = await Runtime.start({
    dir: join(dir, 'gateway'), port: 0, httpPort: 0, peers: [seeder.udpAddress], logger: silentLogger, processMetrics: false, ...gatewayOpts,
  })
  t.after(() => gateway.close())
  const api = JSON.parse(await readFile(join(dir, 'gateway', 'api.json'), 'utf8')) as { http: string; token: string }
  return { dir, body, id, blake3, seeder, gateway, base: gateway.httpUrl!, token: api.token, api: api.http, path }
}
