// A file transfer between two real UDP nodes in this process with --max-upload at the seeder or
// --max-download at the getter: it completes byte-exact (datagrams the upload limit drops are asked
// again), and it takes at least the time the limit implies. A busy machine only makes it slower, so
// the lower bound on time cannot flake; the upper bound on the rate is the e2e test's and the bench's.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileNode, shareRandom } from '../../helpers/file-swarm.ts'
import { download } from '../../../src/mesh/file-download.ts'

const SIZE = 2 << 20
/** Bytes a second: the file takes about 2.7 s on the wire at the limit, uncapped it takes a tenth of that. */
const RATE = 1 << 20

for (const side of ['upload', 'download'] as const) {
  test(`a file fetched under --max-${side} arrives byte-exact and no faster than the limit allows`, { timeout: 120_000 }, async (t) => {
    const limit = { maxUploadBytesPerSecond: side === 'upload' ? RATE : undefined, maxDownloadBytesPerSecond: side === 'download' ? RATE : undefined }
    const seeder = await fileNode(t, { init: side === 'upload' ? limit : {} })
    const getter = await fileNode(t, { init: side === 'download' ? limit : {} })
    const f = await shareRandom(t, SIZE, seeder)
    const started = performance.now()
    const r = await download(getter.node, getter.store, f.id, { peers: [seeder.node.address] })
    const seconds = (performance.now() - started) / 1000
    t.diagnostic(`${SIZE} bytes in ${seconds.toFixed(2)} s under ${RATE} B/s`)
    assert.equal(r.size, SIZE)
    assert.ok((await readFile(join(getter.dir, 'shared', f.id))).equals(f.bytes), 'byte-exact')
    // The wire carries the data as base64 (4/3 of it), less the bucket's burst (half a second).
    const wire = (SIZE * 4) / 3
    assert.ok(seconds >= (wire / RATE) - 0.5 - 0.05, `${SIZE} bytes in ${seconds.toFixed(2)} s under ${RATE} B/s`)
    const capped = side === 'upload' ? seeder.node.upload.status() : getter.node.download.status()
    assert.equal(capped.limitBytesPerSecond, RATE)
    if (side === 'upload') assert.ok(seeder.node.upload.status().sentByLane.file >= wire, 'the file went through the file lane')
    else assert.ok(getter.node.download.status().deferredBytes > 0, 'requests waited for the bucket')
  })
}
