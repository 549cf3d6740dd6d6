// Finds a working ffmpeg (and ffprobe). Order: explicit flag > FFMPEG_PATH > `ffmpeg` on PATH >
// the binary shipped inside @ffmpeg-installer/ffmpeg, so a fresh clone works without apt.
// An explicit flag or env var that does not run is an error, not a silent fallback: the user
// asked for that binary and should learn it is broken.

import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { IngestError } from './ingest-error.ts'

export type BinarySource = 'flag' | 'env' | 'path' | 'bundled'

export interface ResolvedBinary {
  path: string
  source: BinarySource
  /** First line of `-version`, e.g. "ffmpeg version 5.1.9-0+deb12u1 ...". */
  version: string
}

export interface ResolveOptions {
  /** The `--ffmpeg` flag. */
  explicit?: string
  /** Defaults to process.env; tests pass their own (e.g. PATH='' to reach the bundled fallback). */
  env?: NodeJS.ProcessEnv
}

/** `-version` prints in a few ms; a binary that takes this long is hung or not ffmpeg. */
const VERSION_TIMEOUT_MS = 10_000

const INSTALL_HINT =
  'Install ffmpeg (Debian/Ubuntu: `sudo apt-get install -y ffmpeg`; macOS: `brew install ffmpeg`), ' +
  'or point --ffmpeg / FFMPEG_PATH at an ffmpeg binary.'

/** Runs `<path> -version`; resolves to its first line, or null when it does not run. */
export function probeVersion (path: string, env?: NodeJS.ProcessEnv): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(path, ['-version'], { timeout: VERSION_TIMEOUT_MS, env: env ?? process.env, windowsHide: true },
      (err, stdout) => {
        if (err) return resolve(null)
        const first = String(stdout).split('\n')[0].trim()
        resolve(/version/i.test(first) ? first : null)
      })
  })
}

function bundledFfmpegPath (): string | null {
  try {
    const require = createRequire(import.meta.url)
    // The package throws (a string) on unsupported platforms and when its binary is missing.
    const mod = require('@ffmpeg-installer/ffmpeg') as { path?: unknown }
    return typeof mod.path === 'string' ? mod.path : null
  } catch {
    return null
  }
}

async function resolveTool (
  tool: 'ffmpeg' | 'ffprobe',
  opts: ResolveOptions,
  candidatesAfterPath: () => string[],
): Promise<ResolvedBinary> {
  const env = opts.env ?? process.env
  const code = tool === 'ffmpeg' ? 'ERR_NO_FFMPEG' : 'ERR_NO_FFPROBE'
  const envName = tool === 'ffmpeg' ? 'FFMPEG_PATH' : 'FFPROBE_PATH'

  if (opts.explicit !== undefined) {
    const version = await probeVersion(opts.explicit, env)
    if (version) return { path: opts.explicit, source: 'flag', version }
    throw new IngestError(code, `${tool} given as ${JSON.stringify(opts.explicit)} does not run (\`${opts.explicit} -version\` failed). ${INSTALL_HINT}`)
  }
  const fromEnv = env[envName]
  if (fromEnv) {
    const version = await probeVersion(fromEnv, env)
    if (version) return { path: fromEnv, source: 'env', version }
    throw new IngestError(code, `${envName}=${JSON.stringify(fromEnv)} does not run (\`${fromEnv} -version\` failed). ${INSTALL_HINT}`)
  }
  // execFile searches env.PATH itself when given a bare name.
  const onPath = await probeVersion(tool, env)
  if (onPath) return { path: tool, source: 'path', version: onPath }
  for (const candidate of candidatesAfterPath()) {
    const version = await probeVersion(candidate, env)
    if (version) return { path: candidate, source: 'bundled', version }
  }
  throw new IngestError(code, `no working ${tool} found (not on PATH${tool === 'ffmpeg' ? ', and the bundled @ffmpeg-installer binary does not run' : ''}). ${INSTALL_HINT}`)
}

export function resolveFfmpeg (opts: ResolveOptions = {}): Promise<ResolvedBinary> {
  return resolveTool('ffmpeg', opts, () => {
    const p = bundledFfmpegPath()
    return p ? [p] : []
  })
}

/** ffprobe: FFPROBE_PATH > PATH > next to a given ffmpeg (the bundled package ships none). */
export function resolveFfprobe (opts: ResolveOptions & { besideFfmpeg?: string } = {}): Promise<ResolvedBinary> {
  return resolveTool('ffprobe', opts, () =>
    opts.besideFfmpeg && opts.besideFfmpeg.includes('/') ? [join(dirname(opts.besideFfmpeg), 'ffprobe')] : [])
}
