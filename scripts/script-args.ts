// The flags of every `npm run <script>`: `--help` prints the script's usage and exits 0; a flag the
// script does not know, a flag missing its value, or a value out of range is one line on stderr and
// exit code 2. Before, node:util's parseArgs threw a TypeError whose stack trace was all a user saw,
// and the scripts that read process.argv by hand ignored a mistyped flag and ran for minutes with
// their defaults.
import { parseArgs, type ParseArgsConfig } from 'node:util'

type Options = NonNullable<ParseArgsConfig['options']>
type Values<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true }>>['values']

/** A wrong flag or value: the script prints its message as one line and exits 2. */
export class UsageError extends Error {
  readonly code: string = 'ERR_USAGE'
}

/** parseArgs, strict; what it refuses becomes a UsageError (its message names the flag). */
export function readFlags<const O extends Options>(options: O, args: string[]): Values<O> {
  try {
    return parseArgs({ args, options, strict: true }).values
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message.split('\n')[0] : String(err))
  }
}

/** The one line and exit code 2 of a usage error, for a script's top-level catch. */
export function exitUsage(name: string, err: UsageError): never {
  process.stderr.write(`${name}: ${err.message} (see npm run ${name} -- --help)\n`)
  process.exit(2)
}

/** A script's flags read at its top: `--help` prints `usage` and exits 0; a usage error exits 2. */
export function scriptFlags<const O extends Options>(name: string, usage: string, options: O, args: string[] = process.argv.slice(2)): Values<O> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${usage.trimEnd()}\n`)
    process.exit(0)
  }
  return orExitUsage(name, () => readFlags(options, args))
}

/** `read()`, with a UsageError it throws turned into the script's one line and exit code 2. */
export function orExitUsage<T>(name: string, read: () => T): T {
  try {
    return read()
  } catch (err) {
    if (err instanceof UsageError) exitUsage(name, err)
    throw err
  }
}

/** A flag's value as a number from min to max (an integer when `integer`), or a UsageError. */
export function numberFlag(flag: string, value: string | undefined, fallback: number, min: number, max: number, integer = false): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${flag} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max} (got "${value}")`)
  }
  return n
}
