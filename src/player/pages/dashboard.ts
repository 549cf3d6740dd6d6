// ─── FAN-OUT DASHBOARD: placeholder ─────────────────────────────────────────────────────────
// The fan-out dashboard (per-stream upload budget, relay tree, peer counts over time) is written
// later by another engineer. It replaces this page body; the `/dashboard` route in
// routes-pages.ts already serves whatever `dashboardPage` returns and counts it as 'dashboard'.
import { html, page } from './html.ts'

export function dashboardPage(): string {
  return page('cjp2p-stream dashboard', html`<h1>Dashboard</h1>
<p>The fan-out dashboard is not built yet. Meanwhile see <a href="/status.json">status.json</a>
and <a href="/metrics">/metrics</a>.</p>`)
}
