// The player's view of which streams this node holds. The CLI wires it to the real stream logs;
// the player never creates or closes a log itself.
import { isStreamId } from '../store/stream-id.ts'
import type { StreamId, StreamLogReader } from '../store/stream-types.ts'

export interface StreamDirectory {
  list(): StreamLogReader[]
  get(id: StreamId): StreamLogReader | undefined
}

/** The stream id named by the `:key/:name` URL parts, or null when they cannot name a stream
 * (the store's strict id rule, which also refuses the names `.` and `..`). */
export function streamIdFromPath(key: unknown, name: unknown): StreamId | null {
  if (typeof key !== 'string' || typeof name !== 'string') return null
  const id = `stream/${key}/${name}`
  return isStreamId(id) ? id : null
}

/** URL path of a stream id, each part escaped (ids are URL-safe by construction, but ids come from peers). */
export function streamPath(id: StreamId): string {
  return id.split('/').map(encodeURIComponent).join('/')
}
