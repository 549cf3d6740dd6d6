// On/off environment variables: a typo or a 0 must never turn on what multicasts on the LAN
// (CJP2P_PORT_MAPPING); commander's own env handling turns a boolean on for any value.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { UsageError, envSwitch, parseMappingProtocols } from '../../src/cli/options.ts'

test('envSwitch: unset and the usual "off" words are off, the "on" words on, anything else a usage error', () => {
  assert.equal(envSwitch('X', {}), false)
  for (const v of ['', '0', 'false', 'NO', ' off ']) assert.equal(envSwitch('X', { X: v }), false, JSON.stringify(v))
  for (const v of ['1', 'true', 'Yes', 'on']) assert.equal(envSwitch('X', { X: v }), true, JSON.stringify(v))
  assert.throws(() => envSwitch('CJP2P_PORT_MAPPING', { CJP2P_PORT_MAPPING: 'maybe' }), (e: unknown) => e instanceof UsageError && /CJP2P_PORT_MAPPING must be 1 or 0/.test(e.message))
})

test('--port-mapping-protocols: known protocols, each once, in the order given; anything else a usage error', () => {
  assert.deepEqual(parseMappingProtocols('nat-pmp'), ['nat-pmp'])
  assert.deepEqual(parseMappingProtocols(' upnp-igd , pcp'), ['upnp-igd', 'pcp'])
  for (const v of ['', 'pcp,pcp', 'natpmp', 'pcp,upnp']) {
    assert.throws(() => parseMappingProtocols(v), (e: unknown) => e instanceof UsageError && /--port-mapping-protocols wants some of pcp,nat-pmp,upnp-igd/.test(e.message), JSON.stringify(v))
  }
})
