// A headless Chromium (the Debian package) driven by playwright-core, locked to loopback, with a
// throwaway profile; closed and removed after the test.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import type { BrowserContext, Page } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'
// Exactly the flags MEDIA.md lists: no outside hosts, no background traffic, autoplay without a gesture.
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required', '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1']

export interface Browser { context: BrowserContext; page: Page; consoleErrors: string[] }

export async function launchChromium(t: TestContext, viewport = { width: 1280, height: 900 }): Promise<Browser> {
  const { chromium } = await import('playwright-core')
  const profile = await mkdtemp(join(tmpdir(), 'cjp2p-chromium-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, viewport })
  t.after(async () => {
    await context.close().catch(() => {})
    await rm(profile, { recursive: true, force: true })
  })
  const page = context.pages()[0] ?? await context.newPage()
  const consoleErrors: string[] = []
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()) })
  page.on('pageerror', (e) => consoleErrors.push(String(e)))
  return { context, page, consoleErrors }
}

/** Names what is missing for browser tests, or null when ffmpeg and Chromium are both there. */
export function missingForBrowser(): string | null {
  const missing = ['/usr/bin/ffmpeg', '/usr/bin/ffprobe', CHROMIUM].filter((p) => !existsSync(p))
  return missing.length ? `${missing.join(' and ')} not installed (apt-get install -y ffmpeg chromium)` : null
}
