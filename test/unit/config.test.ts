import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ConfigError, resolveConfig, type Config } from '../../src/config.ts'
import { helpText, parseConfig } from '../../src/flags.ts'
import { parseSettings } from '../../src/settings.ts'

function parse(argv: string[], env = {}): Config {
  const c = parseConfig(argv, env)
  if (c === 'help') throw new Error('unexpected help')
  return c
}

function fails(argv: string[], flag: string, env = {}) {
  try {
    parseConfig(argv, env)
  } catch (err) {
    assert.instance(err, ConfigError)
    assert.ok((err as Error).message.includes(flag), (err as Error).message)
    assert.not.match((err as Error).message, /\n/)
    return
  }
  assert.unreachable(`${argv.join(' ')} should fail`)
}

test('defaults', () => {
  const c = parse([])
  assert.is(c.port, 4000)
  assert.is(c.host, '127.0.0.1')
  assert.is(c.name, 'node-4000')
  assert.is(c.dataDir, '.data/node-4000')
  assert.is(c.workMs, 6000)
  assert.is(c.retentionMs, 600_000)
  assert.is(c.secret, null, "this machine's secret is used")
})

test('flags, with or without =, win over environment variables', () => {
  const c = parse(['--port', '4001', '--name=n1', '--work-ms', '500'], {
    PORT: '5000',
    WORK_MS: '9',
    RETENTION_MS: '1000',
    DATA_DIR: '/tmp/x',
    CLUSTER_SECRET: 'long-enough',
  })
  assert.is(c.port, 4001)
  assert.is(c.name, 'n1')
  assert.is(c.workMs, 500)
  assert.is(c.retentionMs, 1000)
  assert.is(c.dataDir, '/tmp/x')
  assert.is(c.secret, 'long-enough')
})

test('invalid values fail with one line naming the flag', () => {
  fails(['--port', 'abc'], '--port')
  fails(['--port', '70000'], '--port')
  fails(['--work-ms', '-5'], '--work-ms')
  fails(['--work-ms', '1.5'], '--work-ms')
  fails(['--retention-ms', '0'], '--retention-ms')
  fails(['--name', 'has space'], '--name')
  fails(['--secret', 'short'], '--secret')
  fails(['--generator', ' '], '--generator')
  fails(['--attempts', '0'], '--attempts')
  fails(['--retry-ms', 'soon'], '--retry-ms')
  fails(['--port'], '--port')
  fails(['--bogus', '1'], '--bogus')
  fails([], '--port', { PORT: 'x' })
  fails([], 'the environment variable PORT', { PORT: 'x' })
  // A flag given where a value was left out is named as that, not as an unknown flag after it.
  fails(['--port', '--name', 'foo'], '--port needs a value, and --name is a flag')
  fails(['--name', '--port=4001'], '--name needs a value')
  assert.is(parse(['--name=--odd']).name, '--odd', 'given with =, a value may look like a flag')
  // Past a second, a gathered write nears the 10 s after which peers write it themselves.
  fails(['--log-batch-ms', '1001'], '--log-batch-ms')
  fails(['--log-batch-ms', '-1'], '--log-batch-ms')
  fails(
    ['--port', '4001', '--metrics-port', '4001'],
    '--metrics-port must differ from --port (4001)',
  )
  fails(
    ['--port', '4001', '--metrics-port', '4001', '--metrics-host', '0.0.0.0'],
    '--metrics-port must differ from --port (4001)',
  )
  assert.is(
    parse(['--port', '4001', '--metrics-port', '4001', '--metrics-host', '127.0.0.2']).metricsPort,
    4001,
  )
})

test('--log-batch-ms takes 0 (one turn of the event loop) up to 1000', () => {
  const batchMs = (v: string) => (parseConfig(['--log-batch-ms', v]) as Config).logBatchMs
  assert.is(batchMs('0'), 0)
  assert.is(batchMs('1000'), 1000)
  assert.is((parseConfig([]) as Config).logBatchMs, 200)
})

test('--log-writers is one (a scribe writes for the cluster, the default) or each', () => {
  const writers = (argv: string[], env = {}) => (parseConfig(argv, env) as Config).logWriters
  assert.is(writers([]), 'one')
  assert.is(writers(['--log-writers', 'each']), 'each')
  assert.is(writers([], { LOG_WRITERS: 'each' }), 'each')
  fails(['--log-writers', 'two'], '--log-writers')
  fails(['--log-writers', 'ONE'], '--log-writers')
})

test('--file-copies is how many nodes besides the maker copy a file: 1 by default, 0 or more', () => {
  const copies = (argv: string[], env = {}) => (parseConfig(argv, env) as Config).fileCopies
  assert.is(copies([]), 1)
  assert.is(copies(['--file-copies', '0']), 0)
  assert.is(copies([], { FILE_COPIES: '2' }), 2)
  fails(['--file-copies', '-1'], '--file-copies')
  fails(['--file-copies', 'all'], '--file-copies')
  fails(['--file-copies', '1.5'], '--file-copies')
})

test('--help lists every flag with its variable', () => {
  assert.is(parseConfig(['--help']), 'help')
  const help = helpText()
  for (const s of [
    '--port',
    'PORT',
    '--host',
    'HOST',
    '--name',
    'NODE_NAME',
    '--data',
    'DATA_DIR',
    '--work-ms',
    'WORK_MS',
    '--retention-ms',
    '--secret',
    'CLUSTER_SECRET',
  ]) {
    assert.ok(help.includes(s), s)
  }
})

test('a node reachable from other machines needs an explicit secret', () => {
  fails(['--host', '0.0.0.0'], '--host 0.0.0.0')
  fails(['--host', '10.77.0.1'], '--secret')
  assert.is(parse(['--host', '10.77.0.1', '--secret', 'long-enough']).host, '10.77.0.1')
  for (const loopback of ['127.0.0.1', '127.0.0.2', '::1', 'localhost'])
    assert.is(parse(['--host', loopback]).host, loopback)
})

test('a setting given as undefined (from code) takes its default', () => {
  const c = resolveConfig({ workMs: undefined, port: 4005 })
  assert.is(c.workMs, 6000)
  assert.is(c.name, 'node-4005')
})

test('settings given as values are checked by the same rules, naming the option', () => {
  const refused = (settings: Record<string, unknown>, message: RegExp) => {
    try {
      parseSettings(settings)
    } catch (err) {
      assert.instance(err, ConfigError)
      assert.match((err as Error).message, message)
      return
    }
    assert.unreachable(`${JSON.stringify(settings)} should be refused`)
  }
  refused({ attempts: 0 }, /^attempts must be a whole number above 0, got "0"$/)
  refused({ logFormat: 'xml' }, /^logFormat must be 'text' or 'json'/)
  refused({ workMs: -5 }, /^workMs must be/)
  refused(
    { port: { no: 1 } },
    /^port must be a string or a number as its flag takes, got an object$/,
  )
  // Made text, an object or a list was taken as a secret anyone could guess.
  refused(
    { secret: { s: 'abcdefghij' } },
    /^secret must be a string \(at least 8 characters\), got object$/,
  )
  refused({ secret: ['aaaaaaaaa'] }, /^secret must be a string .*, got a list$/)
  refused({ secret: 12345678 }, /^secret must be a string .*, got number$/)
  refused({ name: ['a', 'b'] }, /^name takes no list$/)
  refused(
    { quorum: { count: 2 } },
    /^quorum must be 'majority', a number or \{ kind: … \}, got an object$/,
  )
  refused({ data: '/tmp/x' }, /^unknown option "data"; the options are: port, host, name, dataDir/)
  refused({ checkpointStep: 0 }, /^checkpointStep must be a whole percent/)
  const ok = parseSettings({
    port: 0,
    attempts: 2,
    bootstrap: [{ host: '127.0.0.1', port: 14000 }],
    allowOrigins: ['https://example.test'],
    quorum: { kind: 'count', count: 2 },
    secret: null,
    checkpointStep: 5,
    dataDir: undefined,
  })
  assert.equal(ok, {
    port: 0,
    attempts: 2,
    bootstrap: [{ host: '127.0.0.1', port: 14000 }],
    allowOrigins: ['https://example.test'],
    quorum: { kind: 'count', count: 2 },
    checkpointStep: 5,
  })
})

test('a node on any free port gets a name of its own', () => {
  const a = resolveConfig({ port: 0, dhtPort: 0 })
  const b = resolveConfig({ port: 0, dhtPort: 0 })
  assert.match(a.name, /^node-[A-Za-z0-9_-]{6}$/)
  assert.is.not(a.name, b.name)
  assert.is(a.dataDir, `.data/${a.name}`)
})

test.run()
