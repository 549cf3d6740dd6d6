// This package's version, for cjp2p_build_info and the audience telemetry's version counts.
import { createRequire } from 'node:module'

/** require() caches package.json, so every call after the first reads it from memory. */
export function packageVersion(): string {
  try {
    const pkg: unknown = createRequire(import.meta.url)('../../package.json')
    if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') return pkg.version
  } catch {
    // A vendored copy without package.json still runs; the version label says so.
  }
  return 'unknown'
}
