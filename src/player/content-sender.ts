// Copies a file's bytes into an HTTP response as they arrive: each piece waits until the fetch
// has it on disk (pulling the fetch's priority to it), then goes out once the socket drains.
import type { ServerResponse } from 'node:http'
import type { ContentReader } from './content-library.ts'
import { MEDIA_PIECE_BYTES, drained, gone } from './media-sender.ts'

/** Sends [start, end) and ends the response; resolves false if the client left, the fetch failed
 * or a read failed (the response is then destroyed, never finished short). */
export async function sendContentBytes(reader: ContentReader, res: ServerResponse, start: number, end: number,
  signal: AbortSignal, piece = MEDIA_PIECE_BYTES): Promise<boolean> {
  reader.focus(start)
  for (let offset = start; offset < end;) {
    if (gone(res)) return false
    const length = Math.min(piece, end - offset)
    let bytes: Buffer
    try {
      await reader.ready(offset, offset + length, signal)
      if (gone(res)) return false
      bytes = await reader.read(offset, length)
    } catch (err) {
      res.destroy(err instanceof Error ? err : new Error(String(err)))
      return false
    }
    offset += length
    if (!res.write(bytes) && !(await drained(res))) return false
  }
  res.end()
  return true
}
