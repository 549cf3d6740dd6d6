// `npm test`'s first step: the type check and the lint at once. Each is one process on one core,
// and in turn they held up the tests for about a minute on a 2-core machine (tsc ~30 s, eslint
// ~25 s of CPU). Both always run to the end, so one run shows every error; either failing fails.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const checks = [['typecheck', 'tsc', ['--noEmit', '-p', '.']], ['lint', 'eslint', ['.']]]

const codes = await Promise.all(checks.map(([name, bin, args]) => new Promise((resolve) => {
  const child = spawn(process.execPath, [fileURLToPath(new URL(`../node_modules/.bin/${bin}`, import.meta.url)), ...args], { stdio: 'inherit' })
  child.on('error', (err) => { process.stderr.write(`${name}: ${err.message}\n`); resolve(1) })
  child.on('close', (code) => {
    if (code !== 0) process.stderr.write(`${name} failed (exit ${code})\n`)
    resolve(code ?? 1)
  })
})))
process.exit(codes.some((c) => c !== 0) ? 1 : 0)
