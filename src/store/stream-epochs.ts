// Running a stream's name again after it ended. A stream whose end was signed (Ctrl-C, the end of
// a file) is over for good under its id: viewers and relays treat an ended head as final and keep
// the chunks they hold, and its last chunk is short, so bytes signed later under the same id would
// contradict what they hold. So `ingest --name sky` after `sky` ended starts a NEW stream, signed
// with the same key, named `sky.2` (then `sky.3`, ...): a clean start with its own id, printed
// like any other. Going on under the old id would take a protocol change (a head that un-ends,
// chunks after a short one); a crash, which signs no end, still continues the old id.
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { errnoCode, fsError, StoreError } from './errors.ts'
import { isValidStreamName } from './stream-id.ts'

/** The name of run `k` of a stream name: `sky`, `sky.2`, `sky.3`, ... */
export function epochName(name: string, k: number): string {
  const out = k <= 1 ? name : `${name}.${k}`
  if (!isValidStreamName(out)) {
    throw new StoreError('ERR_BAD_ID', `stream "${name}" has ended and "${out}" is not a valid name (1-64 characters); use another --name`)
  }
  return out
}

/** The highest run of `name` this folder holds a log of (1 when none, or only `name` itself). */
export async function newestEpoch(dir: string, publicKeyHex: string, name: string): Promise<number> {
  let entries: string[]
  try {
    entries = await readdir(join(dir, 'streams', publicKeyHex))
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return 1
    throw fsError(err, `listing ${join(dir, 'streams', publicKeyHex)}`)
  }
  let k = 1
  for (const e of entries) {
    if (!e.startsWith(name + '.')) continue
    const tail = e.slice(name.length + 1)
    if (/^[1-9]\d{0,8}$/.test(tail)) k = Math.max(k, Number(tail))
  }
  return k
}
