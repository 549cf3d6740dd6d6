// Per-stream routes: the live playlist, the verified media bytes, and playback reports.
import express, { type Express, type Request, type Response } from 'express'
import type { StreamLogReader } from '../store/stream-types.ts'
import type { PlayerContext } from './app.ts'
import { answerRange, parseRangeHeader } from './byte-range.ts'
import { sendLogBytes } from './media-sender.ts'
import { MAX_REPORT_BYTES, parsePlaybackReport } from './playback-report.ts'
import { parseReloadQuery, waitUntil } from './blocking-reload.ts'
import { buildLivePlaylist } from './playlist.ts'
import { hasPart, windowRecords } from './playlist-parts.ts'
import { PlaylistCursors } from './playlist-cursor.ts'
import { routeLabel } from './request-guard.ts'
import { streamIdFromPath } from './stream-directory.ts'
import { realTimers } from '../util/timers.ts'
import { playableRun } from './verified-segments.ts'

const MEDIA_TYPES = { ts: 'video/mp2t', fmp4: 'video/mp4' } as const

/** File names the one log is served under, per format. FFmpeg's HLS demuxer (ffprobe, ffplay,
 * mpv) refuses segment and map URIs without a media extension (`allowed_segment_extensions`), so
 * the playlist names `media.ts`, or `media.m4s` with the init at `init.mp4`; all are byte ranges of
 * the same log. The bare `media` of earlier versions stays for pages and scripts that use it. */
const MEDIA_NAMES = { ts: ['media.ts', 'media'], fmp4: ['media.m4s', 'init.mp4', 'media'] } as const
const ALL_MEDIA_NAMES: ReadonlySet<string> = new Set(Object.values(MEDIA_NAMES).flat())
export const PLAYLIST_URIS = {
  ts: { mediaUri: 'media.ts', mapUri: undefined },
  fmp4: { mediaUri: 'media.m4s', mapUri: 'init.mp4' },
} as const

/** Records looked at for a low-latency playlist: enough parts for `window` segments of up to 16 parts. */
export const PARTS_PER_SEGMENT_LOOKED_AT = 16
/** RFC 8216bis 6.2.5.2: a blocked reload waits at most three target durations. */
const BLOCK_TARGET_DURATIONS = 3
/** An _HLS_msn further than this past the newest segment is an error (400), not a wait. */
const MSN_AHEAD_LIMIT = 2

export function registerStreamRoutes(app: Express, { components, window }: PlayerContext): void {
  const { streams, logger, metricsSink, onPlaybackReport } = components
  const timers = components.timers ?? realTimers
  const cursors = new PlaylistCursors()
  const run = (log: StreamLogReader) => playableRun(log, window * PARTS_PER_SEGMENT_LOOKED_AT, cursors.floor(log))

  /** The log the URL names, or null after answering 404. */
  function findLog(req: Request, res: Response): StreamLogReader | null {
    const id = streamIdFromPath(req.params.key, req.params.name)
    const log = id ? streams.get(id) : undefined
    if (!log) {
      res.status(404).type('text/plain').send('unknown stream')
      return null
    }
    return log
  }

  app.get('/streams/stream/:key/:name/index.m3u8', routeLabel('playlist'), async (req: Request, res: Response) => {
    const log = findLog(req, res)
    if (!log) return
    const reload = parseReloadQuery(req.query)
    if (typeof reload === 'string') {
      res.status(400).type('text/plain').send(reload)
      return
    }
    let now = run(log)
    if (now && reload) {
      const newest = now.segments.at(-1)
      const newestMsn = newest ? newest.part?.msn ?? newest.n : -1
      if (reload.msn > newestMsn + MSN_AHEAD_LIMIT) {
        res.status(400).type('text/plain').send(`_HLS_msn ${reload.msn} is more than ${MSN_AHEAD_LIMIT} segments past the newest (${newestMsn})`)
        return
      }
      const bound = BLOCK_TARGET_DURATIONS * now.info.targetDuration * 1000
      const ready = () => { now = run(log); return now !== null && hasPart(now.segments, reload.msn, reload.part, now.ended) }
      if (!(await waitUntil(log, timers, ready, bound, (stop) => res.on('close', stop)))) {
        if (!res.headersSent && !res.destroyed) res.status(503).set('Retry-After', '1').type('text/plain').send('the requested part did not arrive in time')
        return
      }
    }
    if (!now) {
      res.status(503).set('Retry-After', '1').type('text/plain').send('stream info not received yet')
      return
    }
    const floor = cursors.floor(log)
    const listed = windowRecords(now.segments, window, now.ended)
    const discontinuitiesBefore = cursors.advance(log, listed[0]?.n ?? floor)
    const text = buildLivePlaylist({ ...now, segments: listed, window, discontinuitiesBefore, ...PLAYLIST_URIS[now.info.format], firstSequence: floor })
    res.set('Cache-Control', 'no-cache').set('Content-Type', 'application/vnd.apple.mpegurl')
      .send(Buffer.from(text)) // a Buffer keeps Express from appending a charset
  })

  app.get('/streams/stream/:key/:name/:file', routeLabel('media'), async (req: Request, res: Response, next) => {
    if (!ALL_MEDIA_NAMES.has(req.params.file as string)) {
      next()
      return
    }
    const log = findLog(req, res)
    if (!log) return
    const info = log.info()
    if (!info) {
      res.status(404).type('text/plain').send('stream info not received yet')
      return
    }
    if (!(MEDIA_NAMES[info.format] as readonly string[]).includes(req.params.file as string)) {
      res.status(404).type('text/plain').send(`a ${info.format} stream is served as ${MEDIA_NAMES[info.format][0]}`)
      return
    }
    res.set('Accept-Ranges', 'bytes').set('Cache-Control', 'no-store')
    const answer = answerRange(log, parseRangeHeader(req.headers.range))
    if (answer.status === 416) {
      if (answer.total !== null) res.set('Content-Range', `bytes */${answer.total}`)
      res.status(416).type('text/plain').send(answer.reason)
      return
    }
    res.status(answer.status).set('Content-Type', MEDIA_TYPES[info.format]).set('Content-Length', String(answer.end - answer.start))
    if (answer.status === 206) res.set('Content-Range', `bytes ${answer.start}-${answer.end - 1}/${answer.total ?? '*'}`)
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    const complete = await sendLogBytes(log, res, answer.start, answer.end)
    if (!complete) logger.debug('media response cut short', { id: log.id, start: answer.start, end: answer.end })
  })

  app.post('/streams/stream/:key/:name/playback-report', routeLabel('report'),
    express.json({ limit: MAX_REPORT_BYTES, strict: true }), (req: Request, res: Response) => {
      const origin = req.headers.origin
      // Only our own page reports; a page from elsewhere cannot even send JSON without a CORS
      // preflight we never grant, but refuse a foreign Origin outright too.
      if (origin !== undefined && origin !== `${req.protocol}://${req.headers.host}`) {
        res.status(403).type('text/plain').send('foreign origin')
        return
      }
      if (!req.is('application/json')) {
        res.status(415).type('text/plain').send('send application/json')
        return
      }
      const log = findLog(req, res)
      if (!log) return
      const parsed = parsePlaybackReport(req.body)
      if ('error' in parsed) {
        res.status(400).type('text/plain').send(parsed.error)
        return
      }
      const { report } = parsed
      for (let i = 0; i < report.stalls; i++) metricsSink?.playbackStall(report.stallSeconds / report.stalls)
      try {
        onPlaybackReport?.(log.id, report)
      } catch (err) {
        logger.warn('playback report handler failed', { id: log.id, error: String(err) })
      }
      res.status(204).end()
    })
}
