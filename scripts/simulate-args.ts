// The flags of `npm run simulate` and its usage text (read through scripts/script-args.ts: `--help`
// prints USAGE, a wrong flag is one line and exit code 2).

export const USAGE = `npm run simulate -- [options]
  --viewers N | --sizes 100,1000   viewers (default 1000), or several runs of these sizes
  --seconds S                      virtual seconds after the first join (default 60)
  --link delay=25ms,jitter=5ms,loss=1%,rate=8mbit   the path between any two nodes (default delay=25ms,loss=1%)
  --delay ms  --jitter ms  --loss p|p%              the same, one part at a time
  --churn 20%/min                  share of the viewers replaced per minute
  --upload-capacity copies         every viewer's upload, in copies of the stream (0: unlimited)
  --source-capacity copies         the source's upload (0: unlimited)
  --uplinks 30%=0.5,10%=0.05       shares of the viewers with another upload capacity
  --undeclared                     those viewers start without --max-upload (their link alone is weak)
  --bitrate 2M  --join-spread ms  --bootstrap-viewers k  --seed n
  --json-codec                     datagrams as JSON bytes instead of handed-over messages
  --encrypt                        every node runs encrypted sessions (implies --json-codec)
  --wall-limit s                   end early at this many wall seconds; the table says how far it got
  --json file                      write the report as JSON
  --audience [--settle s] [--steady s] [--departure kill|goodbye|both]   the audience telemetry
                                   against the truth; 20 % leave killed (default), with their
                                   goodbyes, or half each way
  --all | --scenario loss1|loss3|churn20|churn50|uneven|uneven-measured|flash ...  issue 12's scenarios
  --chart file.svg  --compare before.json  --label name             (with --all) the loss sweep's chart
  --help                           this text`

export const SIMULATE_OPTIONS = {
  viewers: { type: 'string' }, sizes: { type: 'string' }, seconds: { type: 'string', default: '60' }, link: { type: 'string' },
  delay: { type: 'string' }, jitter: { type: 'string' }, loss: { type: 'string' }, churn: { type: 'string' },
  'upload-capacity': { type: 'string', default: '0' }, 'source-capacity': { type: 'string', default: '0' },
  bitrate: { type: 'string', default: '2M' }, 'join-spread': { type: 'string' }, seed: { type: 'string', default: '1' }, json: { type: 'string' },
  'bootstrap-viewers': { type: 'string', default: '0' }, 'json-codec': { type: 'boolean' }, encrypt: { type: 'boolean' }, audience: { type: 'boolean' },
  settle: { type: 'string', default: '10' }, departure: { type: 'string', default: 'kill' }, steady: { type: 'string', default: '40' }, 'wall-limit': { type: 'string' }, uplinks: { type: 'string' }, undeclared: { type: 'boolean' },
  all: { type: 'boolean' }, scenario: { type: 'string', multiple: true }, chart: { type: 'string' }, compare: { type: 'string' }, label: { type: 'string' },
} as const
