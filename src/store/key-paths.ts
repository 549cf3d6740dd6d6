// Where private keys live unless the user names a place: the per-user data folder (XDG base
// directories), never the working directory, where a `git add -A` would commit a private key.
import { createHash } from 'node:crypto'
import { homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'

/** `$XDG_DATA_HOME/cjp2p-stream`, or `~/.local/share/cjp2p-stream`. */
function dataHome(env: NodeJS.ProcessEnv, home: string): string {
  // The spec says a relative XDG_DATA_HOME is invalid and to be ignored.
  const xdg = env.XDG_DATA_HOME
  return join(xdg && isAbsolute(xdg) ? xdg : join(home, '.local', 'share'), 'cjp2p-stream')
}

/** Stream signing keys, by stream name. */
export function defaultKeyDir(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  return join(dataHome(env, home), 'keys')
}

/** A node's identity (its DHT position), one per data folder: two nodes on one machine run from two
 * folders and must not share a position, while a restart from the same folder keeps its own. */
export function nodeKeyFileFor(dir: string, env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  const folder = createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 16)
  return join(dataHome(env, home), 'nodes', `${folder}.key`)
}
