// <dir>/api.json: how the CLI finds the node running on a data folder and proves it may change
// its state. Written at start (owner-only), removed at a clean stop; a file left by kill -9 names
// a dead pid and is ignored.
import { randomBytes } from 'node:crypto'
import { readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface ApiInfo {
  http: string
  token: string
  pid: number
  udp: string
}

const NAME = 'api.json'

export class ApiFile {
  private constructor(private path: string, private info: ApiInfo) {}

  static newToken(): string { return randomBytes(24).toString('hex') }

  static async write(dir: string, info: ApiInfo): Promise<ApiFile> {
    const path = join(dir, NAME)
    const tmp = `${path}.${process.pid}.tmp`
    await writeFile(tmp, JSON.stringify(info) + '\n', { mode: 0o600 })
    await rename(tmp, path)
    return new ApiFile(path, info)
  }

  /** The running node's API on `dir`, or null when none runs there (no file, or its pid is gone). */
  static async read(dir: string): Promise<ApiInfo | null> {
    let info: ApiInfo
    try {
      info = JSON.parse(await readFile(join(dir, NAME), 'utf8')) as ApiInfo
    } catch {
      return null
    }
    if (typeof info?.http !== 'string' || typeof info.token !== 'string' || !Number.isInteger(info.pid)) return null
    try {
      process.kill(info.pid, 0)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return null
    }
    return info
  }

  /** Removes the file if it is still ours (another node may have started on the folder since). */
  async remove(): Promise<void> {
    const now = await ApiFile.read(join(this.path, '..')).catch(() => null)
    if (now && now.token !== this.info.token) return
    await unlink(this.path).catch(() => {})
  }
}
