import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { metricValue } from '../../scripts/lib/metric-value.ts'

const text = `# HELP nodejs_heap_size_total_bytes Process heap size from Node.js in bytes.
# TYPE nodejs_heap_size_total_bytes gauge
nodejs_heap_size_total_bytes 80347136
nodejs_heap_size_used_bytes{node="n1"} 41700000
nodejs_heap_size_total_bytes_extra 1
process_cpu_seconds_total{mode="a b"} 12.5 1700000000000
`

test("a metric's value is read from Prometheus's text, labelled or not", () => {
  assert.is(metricValue(text, 'nodejs_heap_size_total_bytes'), 80347136)
  assert.is(metricValue(text, 'nodejs_heap_size_used_bytes'), 41700000)
  assert.is(metricValue(text, 'nodejs_heap_space_size_total_bytes'), null)
  assert.is(metricValue(text, 'process_cpu_seconds_total'), 12.5, 'a timestamp after the value')
  assert.is(metricValue('', 'nodejs_heap_size_total_bytes'), null)
  assert.is(metricValue('nodejs_heap_size_total_bytes NaN\n', 'nodejs_heap_size_total_bytes'), null)
})

test.run()
