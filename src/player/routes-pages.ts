// HTML pages and the scripts they load. Only fixed files are served: hls.js from node_modules
// and the player script beside this file; no request path ever becomes a file path.
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { Express, Request, Response } from 'express'
import type { PlayerContext } from './app.ts'
import { dashboardPage } from './pages/dashboard.ts'
import { DashboardCollector } from './pages/dashboard-collector.ts'
import { indexPage } from './pages/index-page.ts'
import { watchPage } from './pages/watch-page.ts'
import { routeLabel } from './request-guard.ts'
import { streamIdFromPath } from './stream-directory.ts'
import { PARTS_PER_SEGMENT_LOOKED_AT } from './routes-streams.ts'
import { playableStart } from './verified-segments.ts'

const HLS_JS = createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js')
const PLAYER_JS = fileURLToPath(new URL('./static/player.js', import.meta.url))
const DASHBOARD_JS = fileURLToPath(new URL('./static/dashboard.js', import.meta.url))
const DASHBOARD_CHARTS_JS = fileURLToPath(new URL('./static/dashboard-charts.js', import.meta.url))
const DASHBOARD_AUDIENCE_JS = fileURLToPath(new URL('./static/dashboard-audience.js', import.meta.url))
const FAVICON_SVG = fileURLToPath(new URL('./static/favicon.svg', import.meta.url))
/** Longest stream id we look up from the query string (the real ones are about 80 characters). */
const MAX_STREAM_PARAM = 300
/** Scripts change only with a new install; a short cache still picks up upgrades quickly. */
const SCRIPT_CACHE = 'public, max-age=300'

function sendPage(res: Response, text: string): void {
  res.set('Cache-Control', 'no-cache').type('html').send(text)
}

export function registerPageRoutes(app: Express, { components, window }: PlayerContext): void {
  app.get('/', routeLabel('index'), async (_req: Request, res: Response) => {
    sendPage(res, indexPage(components.streams.list(), components.content ? await components.content.list() : undefined))
  })

  app.get('/watch/stream/:key/:name', routeLabel('watch'), (req: Request, res: Response) => {
    const id = streamIdFromPath(req.params.key, req.params.name)
    const log = id ? components.streams.get(id) : undefined
    if (!id || !log) {
      res.status(404).type('text/plain').send('unknown stream')
      return
    }
    sendPage(res, watchPage(id, log.info(), playableStart(log, window * PARTS_PER_SEGMENT_LOOKED_AT)))
  })

  // The fan-out dashboard: the page, and the data it polls (this node's status plus its
  // dashboardPeers' statuses, read server-side because they are other origins).
  const collector = new DashboardCollector({ status: components.status })
  app.get('/dashboard', routeLabel('dashboard'), (_req: Request, res: Response) => {
    sendPage(res, dashboardPage())
  })
  app.get('/dashboard/data.json', routeLabel('dashboard'), async (req: Request, res: Response) => {
    const stream = typeof req.query.stream === 'string' && req.query.stream.length <= MAX_STREAM_PARAM ? req.query.stream : undefined
    res.set('Cache-Control', 'no-store').json(await collector.data(stream))
  })

  app.get('/vendor/hls.min.js', routeLabel('vendor'), (_req: Request, res: Response, next) => {
    res.sendFile(HLS_JS, { headers: { 'Cache-Control': SCRIPT_CACHE } }, (err) => err && next(err))
  })

  for (const [path, file] of [['/static/dashboard.js', DASHBOARD_JS], ['/static/dashboard-charts.js', DASHBOARD_CHARTS_JS], ['/static/dashboard-audience.js', DASHBOARD_AUDIENCE_JS]]) {
    app.get(path, routeLabel('vendor'), (_req: Request, res: Response, next) => {
      res.sendFile(file, { headers: { 'Cache-Control': SCRIPT_CACHE } }, (err) => err && next(err))
    })
  }

  // Pages link the SVG; /favicon.ico is what browsers ask for on their own (e.g. on status.json).
  app.get(['/favicon.svg', '/favicon.ico'], routeLabel('vendor'), (_req: Request, res: Response, next) => {
    res.sendFile(FAVICON_SVG, { headers: { 'Cache-Control': SCRIPT_CACHE } }, (err) => err && next(err))
  })

  app.get('/static/player.js', routeLabel('vendor'), (_req: Request, res: Response, next) => {
    res.sendFile(PLAYER_JS, { headers: { 'Cache-Control': SCRIPT_CACHE } }, (err) => err && next(err))
  })
}
