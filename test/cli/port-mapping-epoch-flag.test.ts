// The hidden --port-mapping-epoch-check-ms reaches the runtime (test/e2e/port-mapping.test.ts uses
// it so a gateway restart shows in seconds, not after EPOCH_CHECK_MS), and stays out of --help.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Command } from 'commander'
import { nodeOptions, runtimeOptions, type NodeFlags } from '../../src/cli/options.ts'
import { createLogger } from '../../src/util/logger.ts'

function parse(args: string[]): { cmd: Command; flags: NodeFlags } {
  const cmd = nodeOptions(new Command('node').exitOverride())
  cmd.parse(args, { from: 'user' })
  return { cmd, flags: cmd.opts<NodeFlags>() }
}

test('--port-mapping-epoch-check-ms: a whole number of ms from 100, passed to the runtime; hidden from --help', () => {
  const logger = createLogger({ level: 'error' })
  const { cmd, flags } = parse(['--port-mapping', '--port-mapping-epoch-check-ms', '1500'])
  assert.equal(runtimeOptions(flags, logger).portMappingEpochCheckMs, 1500)
  assert.equal(runtimeOptions(parse([]).flags, logger).portMappingEpochCheckMs, undefined, 'EPOCH_CHECK_MS by default')
  assert.doesNotMatch(cmd.helpInformation(), /epoch/)
  for (const bad of ['0', '0.001', '99', 'soon']) assert.throws(() => parse(['--port-mapping-epoch-check-ms', bad]), /at least 100/, bad)
})
