// The process entry point: `bin/cjp2p-stream` runs its compiled form, tests run it through tsx.
import { main } from './cli.ts'

await main(process.argv)
