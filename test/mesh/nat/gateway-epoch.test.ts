// The epoch check of RFC 6887 section 8.5 (RFC 6886 section 3.6), and the default gateway read
// from a /proc/net/route listing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EpochWatch, epochLost } from '../../../src/mesh/nat/gateway-epoch.ts'
import { parseDefaultGateway } from '../../../src/mesh/nat/default-gateway.ts'

test('an epoch that goes back, or moves unlike our clock, is a gateway restart', () => {
  const prev = { server: 1000, clientMs: 50_000 }
  assert.equal(epochLost(prev, { server: 1060, clientMs: 110_000 }), false, 'both moved 60 s')
  assert.equal(epochLost(prev, { server: 1062, clientMs: 110_000 }), false, 'within 2 s and 1/16 of drift')
  assert.equal(epochLost(prev, { server: 999, clientMs: 50_500 }), false, 'one second back is rounding')
  assert.equal(epochLost(prev, { server: 5, clientMs: 110_000 }), true, 'went back: restarted')
  assert.equal(epochLost(prev, { server: 1010, clientMs: 110_000 }), true, 'advanced 10 s in our 60: restarted with an epoch that happens to be larger')
  assert.equal(epochLost(prev, { server: 1300, clientMs: 110_000 }), true, 'advanced 300 s in our 60: not the same gateway clock')
  const w = new EpochWatch()
  assert.equal(w.observe(1000, 0), false, 'the first reply has nothing to compare with')
  assert.equal(w.observe(1120, 120_000), false)
  assert.equal(w.observe(3, 150_000), true)
  assert.equal(w.observe(33, 180_000), false, 'compared with the restarted gateway from then on')
})

test('the default gateway from /proc/net/route: destination and mask 0, flags UP|GATEWAY, lowest metric', () => {
  const table = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'lan0\t0007A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    'wlan0\t00000000\t0100A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0',
    'lan0\t00000000\t0107A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0',
    'down0\t00000000\t0109A8C0\t0002\t0\t0\t1\t00000000\t0\t0\t0',
    'garbage line',
  ].join('\n')
  assert.equal(parseDefaultGateway(table), '192.168.7.1')
  assert.equal(parseDefaultGateway(table.split('\n').slice(0, 2).join('\n')), null, 'no default route')
  assert.equal(parseDefaultGateway(''), null)
  assert.equal(parseDefaultGateway('h\nx\t00000000\tZZZZZZZZ\t0003\t0\t0\t0\t00000000'), null, 'an unreadable address')
})
