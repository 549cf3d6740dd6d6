// This package's version, for `--version`, cjp2p_build_info and the audience telemetry's version
// counts. Looked up from this module's folder: two levels up in src/util/, one in the bundled dist/.
import { readFileSync } from 'node:fs'

let cached: string | undefined

export function packageVersion(): string {
  if (cached !== undefined) return cached
  cached = 'unknown'
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg: unknown = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8'))
      if (typeof pkg === 'object' && pkg !== null && 'name' in pkg && pkg.name === 'cjp2p-stream' && 'version' in pkg && typeof pkg.version === 'string') {
        cached = pkg.version
        break
      }
    } catch {
      // Not there (the other layout), or a vendored copy without package.json: it still runs, and
      // the version label says so.
    }
  }
  return cached
}
