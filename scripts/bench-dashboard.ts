// bench:audience's view of the source's dashboard: the real player app (the page, its scripts and
// /dashboard/data.json) served by the benchmark's source on 127.0.0.1, fed the same status fields
// the runtime serves for a source (Runtime.status: the swarm's status, its audience and the last
// hour of audience figures), and a headless Chromium that loads the page and saves a screenshot.
// The same server answers the local API's reads, so `cjp2p-stream status --audience` reads the
// benchmark's source as it would a runtime's.
import { randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { CjNode } from '../src/mesh/node.ts'
import type { StreamRegistry } from '../src/mesh/stream-registry.ts'
import type { StreamLog } from '../src/store/stream-log.ts'
import { streamStatus } from '../src/metrics/node-status.ts'

/** Chromium as the machine installs it; CHROMIUM_PATH overrides. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
/** The page polls its data every second and draws the tree's layout over a few polls. */
const SETTLE_MS = 4000

export interface SourceDashboard { url: string; close(): Promise<void> }

/** Serves the source's dashboard; its status is the subset of Runtime.status() the dashboard reads. */
export async function startSourceDashboard(node: CjNode, reg: StreamRegistry, log: StreamLog): Promise<SourceDashboard> {
  const { createPlayerApp, startHttpServer } = await import('../src/player/app.ts')
  let url: string | null = null
  const status = () => {
    const s = reg.get(log.id)
    return {
      node: { udp: node.address, http: url, dir: '', role: 'source', pid: process.pid, uptimeSeconds: Math.round(process.uptime()) },
      counters: node.counters,
      peers: [],
      streams: s ? [streamStatus(s)] : [],
      playback: { reports: 0, stalls: 0, stallSeconds: 0, latencySeconds: null },
      dashboardPeers: [],
    }
  }
  const quiet = { debug() {}, info() {}, warn() {} }
  // A token enables the API routes; reads (what `status` does) need none, and nothing here calls a write.
  const app = createPlayerApp({ streams: { list: () => [log], get: (id: string) => (id === log.id ? log : undefined) }, status, logger: quiet },
    { apiToken: randomBytes(16).toString('hex') })
  const http = await startHttpServer(app, { host: '127.0.0.1', port: 0 })
  url = http.url
  return { url: `${http.url}/dashboard`, close: () => http.close() }
}

/** Loads `url` in headless Chromium, lets it poll a few times, and saves the whole page as PNG. */
export async function screenshotPage(url: string, file: string): Promise<void> {
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    await page.goto(url, { waitUntil: 'load' })
    await page.waitForTimeout(SETTLE_MS)
    await page.screenshot({ path: file, fullPage: true })
  } finally {
    await browser.close()
  }
}

/** `cjp2p-stream status --audience` against the node serving `dashboardUrl`: the CLI itself
 * (src/main.ts through tsx), as a user would type it; its output. */
export async function statusAudience(dashboardUrl: string): Promise<string> {
  const port = new URL(dashboardUrl).port
  const main = new URL('../src/main.ts', import.meta.url).pathname
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', main, 'status', '--audience', '--http-port', port], { encoding: 'utf8', timeout: 60_000 })
  return stdout
}
