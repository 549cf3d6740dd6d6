// A live swarm for end-to-end tests: a source streaming testsrc through real ffmpeg and a chain
// of viewers relaying to each other, all Runtimes in this process on loopback, the way `demo`
// builds them. close() stops everything.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import type { TestContext } from 'node:test'
import type { Page } from 'playwright-core'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Runtime } from '../../src/runtime.ts'
import { startIngest, type IngestFlags } from '../../src/cli/stream.ts'
import { createLogger, type Logger } from '../../src/util/logger.ts'

export const FFMPEG_BIN = '/usr/bin/ffmpeg'
export const CHROMIUM = '/usr/bin/chromium'
// Exactly the flags MEDIA.md lists: no outside hosts, autoplay without a gesture.
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required', '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1']

export interface LiveSwarm {
  id: string
  source: Runtime
  viewers: Runtime[]
  all: Runtime[]
  close(): Promise<void>
}

export function missingTools(tools: readonly string[]): string | null {
  const missing = tools.filter((p) => !existsSync(p))
  return missing.length ? `SKIPPED LOUDLY: ${missing.join(' and ')} not installed (apt-get install -y ${missing.map((m) => m.split('/').pop()).join(' ')})` : null
}

export async function startLiveSwarm(viewerCount: number): Promise<LiveSwarm> {
  const base = mkdtempSync(join(tmpdir(), 'cjp2p-dash-e2e-'))
  const log = quietLogger()
  const all: Runtime[] = []
  let ingest: Awaited<ReturnType<typeof startIngest>> | undefined
  let closed: Promise<void> | null = null
  const close = (): Promise<void> => closed ??= (async () => {
    await ingest?.ingest.stop().catch(() => {})
    for (const rt of [...all].reverse()) await rt.close().catch(() => {})
    rmSync(base, { recursive: true, force: true })
  })()
  try {
    const source = await Runtime.start({ dir: join(base, 'source'), httpPort: 0, logger: log, role: 'source', processMetrics: false })
    all.push(source)
    const flags: IngestFlags = {
      port: 0, host: '127.0.0.1', httpPort: 0, httpHost: '127.0.0.1', peer: [], dir: join(base, 'source'), logLevel: 'warn',
      name: 'testsrc', segmentSeconds: 1, format: 'ts', bitrate: '800k', ffmpeg: FFMPEG_BIN,
    }
    ingest = await startIngest('testsrc', flags, log, source)
    let prev = source.udpAddress
    for (let i = 1; i <= viewerCount; i++) {
      const v = await Runtime.start({ dir: join(base, `viewer${i}`), httpPort: 0, peers: [prev], logger: log, role: 'viewer', processMetrics: false })
      all.push(v)
      await v.watch(ingest.id, [prev])
      prev = v.udpAddress
    }
    for (const rt of all) rt.dashboardPeers = all.filter((o) => o !== rt).map((o) => o.httpUrl!)
    return { id: ingest.id, source, viewers: all.slice(1), all, close }
  } catch (err) {
    await close()
    throw err
  }
}

function quietLogger(): Logger {
  return createLogger({ level: 'warn' })
}

/** Headless Chromium with a fresh profile, closed and removed after the test; its one page. */
export async function openChromiumPage(t: TestContext): Promise<Page> {
  const { chromium } = await import('playwright-core')
  const profile = mkdtempSync(join(tmpdir(), 'cjp2p-chromium-'))
  t.after(() => rmSync(profile, { recursive: true, force: true }))
  const browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, viewport: { width: 1280, height: 900 } })
  t.after(() => browser.close())
  return browser.pages()[0] ?? await browser.newPage()
}
