// HTML pages and the scripts they load. Only fixed files are served: hls.js from node_modules
// and the page scripts beside this file, read once at start; no request path ever becomes a file path.
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { Express, Request, Response } from 'express'
import type { PlayerContext } from './app.ts'
import { dashboardPage } from './pages/dashboard.ts'
import { DashboardCollector } from './pages/dashboard-collector.ts'
import { indexPage } from './pages/index-page.ts'
import { HLS_JS_PATH, watchPage } from './pages/watch-page.ts'
import { routeLabel } from './request-guard.ts'
import { streamIdFromPath } from './stream-directory.ts'
import { PARTS_PER_SEGMENT_LOOKED_AT } from './routes-streams.ts'
import { StaticScript } from './static-script.ts'
import { playableStart } from './verified-segments.ts'

/** The light build: everything the player uses (live, LL-HLS parts, fMP4 and TS) without the
 * features it does not (subtitles, alternate audio, DRM, CMCD, interstitials, content steering),
 * 390 KB against 624 KB for the browser to download and compile before the first frame. */
const HLS_JS = createRequire(import.meta.url).resolve('hls.js/dist/hls.light.min.js')
const pageScript = (name: string) => fileURLToPath(new URL(`./static/${name}`, import.meta.url))
const FAVICON_SVG = fileURLToPath(new URL('./static/favicon.svg', import.meta.url))
/** Longest stream id we look up from the query string (the real ones are about 80 characters). */
const MAX_STREAM_PARAM = 300
/** The favicon changes only with a new install, like the scripts (static-script.ts). */
const ICON_CACHE = 'public, max-age=300'

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

  const scripts: Array<[string, string]> = [[HLS_JS_PATH, HLS_JS], ['/static/player.js', pageScript('player.js')],
    ...['dashboard.js', 'dashboard-charts.js', 'dashboard-audience.js'].map((name): [string, string] => [`/static/${name}`, pageScript(name)])]
  for (const [path, file] of scripts) {
    const script = new StaticScript(file)
    app.get(path, routeLabel('vendor'), (req: Request, res: Response) => script.send(req, res))
  }

  // Pages link the SVG; /favicon.ico is what browsers ask for on their own (e.g. on status.json).
  app.get(['/favicon.svg', '/favicon.ico'], routeLabel('vendor'), (_req: Request, res: Response, next) => {
    res.sendFile(FAVICON_SVG, { headers: { 'Cache-Control': ICON_CACHE } }, (err) => err && next(err))
  })
}
