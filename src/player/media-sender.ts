// Copies verified bytes from a stream log into an HTTP response in bounded pieces, waiting for
// the socket to drain between them, and stops reading as soon as the client goes away.
import type { ServerResponse } from 'node:http'
import type { StreamLogReader } from '../store/stream-types.ts'

/** Bytes read from the log per step: four chunks bound memory per response while keeping the
 * number of reads per 1 s segment (about 200 KB) small. */
export const MEDIA_PIECE_BYTES = 65536

/** Sends [start, end) and ends the response; resolves false if the client left or a read failed
 * (the response is then destroyed, never finished short). */
export async function sendLogBytes(log: StreamLogReader, res: ServerResponse, start: number, end: number,
  piece = MEDIA_PIECE_BYTES): Promise<boolean> {
  for (let offset = start; offset < end;) {
    if (gone(res)) return false
    const length = Math.min(piece, end - offset)
    let bytes: Buffer
    try {
      bytes = await log.read(offset, length)
    } catch (err) {
      res.destroy(err instanceof Error ? err : new Error(String(err)))
      return false
    }
    if (bytes.length !== length) {
      res.destroy(new Error(`log read returned ${bytes.length} bytes, wanted ${length}`))
      return false
    }
    if (gone(res)) return false
    offset += length
    if (!res.write(bytes) && !(await drained(res))) return false
  }
  res.end()
  return true
}

export function gone(res: ServerResponse): boolean {
  return res.destroyed || res.writableEnded
}

/** Resolves true on 'drain', false if the response closes first. */
export function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      res.off('drain', onDrain)
      res.off('close', onClose)
      resolve(ok)
    }
    const onDrain = done(true)
    const onClose = done(false)
    res.on('drain', onDrain)
    res.on('close', onClose)
  })
}
