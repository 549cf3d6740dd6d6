// `npm test`'s first step: package.json's `typecheck` and `lint` at once. Each is one process on
// one core, and in turn they held up the tests for about a minute on a 2-core machine (tsc ~30 s,
// eslint ~25 s of CPU). Both always run to the end, so one run shows every error; either failing
// fails. They run as the npm scripts, so their commands are written once, in package.json.
import { spawn } from 'node:child_process'

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

const codes = await Promise.all(['typecheck', 'lint'].map((name) => new Promise((resolve) => {
  const child = spawn(npm, ['run', '--silent', name], { stdio: 'inherit' })
  child.on('error', (err) => { process.stderr.write(`${name}: ${err.message}\n`); resolve(1) })
  child.on('close', (code) => {
    if (code !== 0) process.stderr.write(`${name} failed (exit ${code})\n`)
    resolve(code ?? 1)
  })
})))
process.exit(codes.some((c) => c !== 0) ? 1 : 0)
