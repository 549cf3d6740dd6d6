// One ingest per stream key at a time. The key lives in the user's data folder, so the same --name
// from two folders is the same stream id: two sources signing different segments under one id would
// split its viewers. A lock file beside the key names the live holder; a stale one (its process is
// gone) is taken over.
import { mkdir, open, readFile, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { CodedError } from '../util/coded-error.ts'
import { errnoCode } from '../store/errors.ts'

export class KeyInUse extends CodedError<'ERR_KEY_IN_USE'> {}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return errnoCode(err) === 'EPERM' }
}

/** Takes `<keyFile>.lock` for this process; returns the release. */
export async function lockKey(keyFile: string, name: string): Promise<() => Promise<void>> {
  const lock = `${keyFile}.lock`
  await mkdir(dirname(lock), { recursive: true, mode: 0o700 })
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(lock, 'wx', 0o600)
      await fh.writeFile(`${process.pid}\n`)
      await fh.close()
      return () => rm(lock, { force: true })
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err
      const holder = Number((await readFile(lock, 'utf8').catch(() => '')).trim())
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new KeyInUse('ERR_KEY_IN_USE', `stream "${name}" is already being ingested (pid ${holder}, key ${keyFile}); use another --name or --key`)
      }
      await rm(lock, { force: true })
    }
  }
  throw new KeyInUse('ERR_KEY_IN_USE', `could not take the lock ${lock}`)
}
