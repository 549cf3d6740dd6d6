// Change notification for a path another process writes: fs.watch plus a poll.
import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import type { IngestLogger } from './ingest-components.ts'

/**
 * Calls onChange when `path` may have changed: fs.watch on its directory (survives the atomic
 * rename ffmpeg uses for playlists, and works before the file exists) plus a poll. Returns a stopper.
 * Neither keeps the process alive.
 */
export function watchPath (path: string, pollMs: number, onChange: () => void, logger?: IngestLogger): () => void {
  let watcher: FSWatcher | null = null
  const name = basename(path)
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      if (file === null || file === name || String(file).startsWith(name)) onChange()
    })
    watcher.on('error', (err) => {
      logger?.debug(`watch ${path} failed, polling only: ${err.message}`)
      watcher?.close()
      watcher = null
    })
  } catch (err) {
    logger?.debug(`cannot watch ${dirname(path)}, polling only: ${(err as Error).message}`)
  }
  const timer = setInterval(onChange, pollMs)
  timer.unref()
  return () => {
    clearInterval(timer)
    watcher?.close()
    watcher = null
  }
}
