import type { Express, Request, Response } from 'express'
import type { PlayerContext } from './app.ts'
import { routeLabel } from './request-guard.ts'

export function registerOpsRoutes(app: Express, { components }: PlayerContext): void {
  app.get('/status.json', routeLabel('status'), (_req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store').json(components.status())
  })

  app.get('/metrics', routeLabel('metrics'), async (_req: Request, res: Response) => {
    const { metrics } = components
    if (!metrics) {
      res.status(404).type('text/plain').send('metrics are not enabled')
      return
    }
    const text = await metrics.text()
    // setHeader, not res.set: Express would append a charset to a text/* type given here verbatim.
    res.setHeader('Content-Type', metrics.contentType)
    res.set('Cache-Control', 'no-store').send(Buffer.from(text))
  })
}
