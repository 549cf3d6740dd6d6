// The node's local HTTP app: playlists written from the signed segment index, verified media by
// byte range, the player and dashboard pages, status JSON and Prometheus text. It reads streams
// through StreamDirectory only and knows nothing of UDP.
import express, { type Express, type NextFunction, type Request, type Response } from 'express'
import type { MetricsSink } from '../metrics/types.ts'
import type { StreamId } from '../store/stream-types.ts'
import type { PlaybackReport } from './playback-report.ts'
import { DEFAULT_PLAYLIST_WINDOW } from './playlist.ts'
import { PlayerError } from './player-error.ts'
import { countRequests, refuseForeignHosts, refusePathTricks, routeLabel, securityHeaders } from './request-guard.ts'
import { registerOpsRoutes } from './routes-ops.ts'
import { registerPageRoutes } from './routes-pages.ts'
import { registerStreamRoutes } from './routes-streams.ts'
import type { StreamDirectory } from './stream-directory.ts'
import type { NodeStatus, StreamStatus } from '../metrics/node-status.ts'

export interface PlayerLogger {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
}

export interface MetricsText {
  contentType: string
  text(): Promise<string>
}

export interface PlayerComponents {
  streams: StreamDirectory
  /** Served as /status.json; the player page reads the keys in PlayerStatusHints if present. */
  status: () => unknown
  metrics?: MetricsText
  onPlaybackReport?: (streamId: StreamId, report: PlaybackReport) => void
  logger: PlayerLogger
  metricsSink?: MetricsSink
}

export interface PlayerInit {
  /** Segments in a live playlist. */
  window?: number
  /** Host names (besides IP literals and localhost) the endpoint answers to. */
  allowedHosts?: readonly string[]
}

/** Keys of status() the player page shows when present (all optional; others are ignored): the
 * page's slice of the status contract (NodeStatus in metrics/node-status.ts). */
export interface PlayerStatusHints {
  peers?: NodeStatus['peers']
  streams?: Array<Pick<StreamStatus, 'id' | 'bytesFromPeers' | 'bytesFromSource'>>
}

/** Longest live window we accept: a playlist is rewritten on every reload, so keep it small. */
const MAX_WINDOW = 1000

export interface PlayerContext {
  components: PlayerComponents
  window: number
}

export function createPlayerApp(components: PlayerComponents, init: PlayerInit = {}): Express {
  const window = init.window ?? DEFAULT_PLAYLIST_WINDOW
  if (!Number.isInteger(window) || window < 1 || window > MAX_WINDOW) {
    throw new PlayerError('ERR_PLAYER_CONFIG', `playlist window must be an integer in 1..${MAX_WINDOW}, got ${window}`)
  }
  const ctx: PlayerContext = { components, window }
  const app = express()
  app.disable('x-powered-by')
  app.set('etag', false)
  app.use(countRequests(components.metricsSink))
  app.use(securityHeaders)
  app.use(refuseForeignHosts(init.allowedHosts))
  app.use(refusePathTricks)
  registerPageRoutes(app, ctx)
  registerStreamRoutes(app, ctx)
  registerOpsRoutes(app, ctx)
  app.use(routeLabel('other'), (_req: Request, res: Response) => {
    res.status(404).type('text/plain').send('not found')
  })
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = clientErrorStatus(err) ?? 500
    if (status === 500) components.logger.warn('http handler failed', { path: req.path, error: String(err) })
    else components.logger.debug('http request refused', { path: req.path, status, error: String(err) })
    if (res.headersSent) {
      res.destroy()
      return
    }
    res.status(status).type('text/plain').send(status === 500 ? 'internal error' : 'bad request')
  })
  return app
}

/** The 4xx status a body parser or similar attached to its error, if any. */
function clientErrorStatus(err: unknown): number | null {
  if (typeof err !== 'object' || err === null) return null
  const status = (err as { status?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode
  return typeof status === 'number' && status >= 400 && status < 500 ? status : null
}

export { startHttpServer, type RunningHttpServer } from './http-server.ts'
