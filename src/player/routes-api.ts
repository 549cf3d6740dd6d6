// The local JSON API the CLI uses (status, peers, ls, get and share handed to a running node):
// reads are open to local callers, calls that change state need the node's token (api-guard.ts).
import express, { type Express, type Request, type Response } from 'express'
import type { PlayerContext } from './app.ts'
import { localApiGuard } from './api-guard.ts'
import { routeLabel } from './request-guard.ts'
import { isFetchableId } from '../store/file-id.ts'
import { BLAKE3_ID_PREFIX } from '../store/blake3/ids.ts'

/** Largest API request body: a path or an id with a few peers. */
const MAX_API_BODY = 16 * 1024
/** Peers one fetch request may name. */
const MAX_FETCH_PEERS = 16

const fail = (res: Response, status: number, why: string) => { res.status(status).type('text/plain').send(why) }

export function registerApiRoutes(app: Express, { components, apiToken }: PlayerContext): void {
  if (!apiToken) return
  const { content, status } = components
  app.use('/api', routeLabel('api'), localApiGuard(apiToken), express.json({ limit: MAX_API_BODY, strict: true }),
    (_req: Request, res: Response, next) => { res.set('Cache-Control', 'no-store'); next() })

  const view = () => status() as { peers?: unknown; streams?: unknown }
  app.get('/api/status', (_req, res) => { res.json(status()) })
  app.get('/api/peers', (_req, res) => { res.json(view().peers ?? []) })
  app.get('/api/streams', (_req, res) => { res.json(view().streams ?? []) })
  if (!content) return

  app.get('/api/files', async (_req, res) => { res.json(await content.list()) })

  app.post('/api/share', async (req: Request, res: Response) => {
    const path = (req.body as { path?: unknown } | undefined)?.path
    if (typeof path !== 'string' || path === '' || !path.startsWith('/')) return fail(res, 400, 'give {"path": "<absolute path>"}')
    try {
      res.json(await content.share(path))
    } catch (err) {
      fail(res, 422, (err as Error).message)
    }
  })

  app.post('/api/fetches', async (req: Request, res: Response) => {
    const body = (req.body ?? {}) as { id?: unknown; name?: unknown; peers?: unknown }
    if (!isFetchableId(body.id)) return fail(res, 400, 'give {"id": "<sha256 hex, or blake3/<hex>>"}')
    const peers = Array.isArray(body.peers) ? body.peers.filter((p): p is string => typeof p === 'string' && p.length < 300).slice(0, MAX_FETCH_PEERS) : []
    try {
      const state = await content.fetch(body.id, { name: typeof body.name === 'string' ? body.name : undefined, peers })
      res.status(state === 'started' ? 202 : 200).json({ id: body.id, state })
    } catch (err) {
      fail(res, 503, (err as Error).message)
    }
  })

  const showFetch = (id: string) => async (_req: Request, res: Response) => {
    const { shared, fetches } = await content.list()
    const f = fetches.find((x) => x.id === id)
    if (f) return void res.json(f)
    const s = shared.find((x) => x.id === id)
    if (s) return void res.json({ ...s, state: 'done', bytes: s.size })
    fail(res, 404, 'no such download')
  }
  const cancelFetch = (id: string, res: Response) => {
    if (!content.cancel(id)) return fail(res, 404, 'no such running download')
    res.status(204).end()
  }
  // A `blake3/<root>` id spans two path segments (an encoded slash is refused as a path trick).
  app.get('/api/fetches/:id', (req: Request, res: Response) => showFetch(req.params.id as string)(req, res))
  app.get('/api/fetches/blake3/:root', (req: Request, res: Response) => showFetch(BLAKE3_ID_PREFIX + (req.params.root as string))(req, res))
  app.delete('/api/fetches/:id', (req: Request, res: Response) => cancelFetch(req.params.id as string, res))
  app.delete('/api/fetches/blake3/:root', (req: Request, res: Response) => cancelFetch(BLAKE3_ID_PREFIX + (req.params.root as string), res))
}
