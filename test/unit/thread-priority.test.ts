import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { v8HelperThreads, v8PoolSize } from '../../src/thread-priority.ts'

test("V8's threads are the delayed-task thread and the pool's workers, first after the main one", () => {
  // Another process's threads (103, 104) fell between this process's; libuv's pool came last.
  const ids = [100, 120, 121, 122, 101, 102, 105, 106, 107, 130]
  assert.equal(v8HelperThreads(ids, 100, 4), [101, 102, 105, 106, 107])
  assert.equal(v8HelperThreads(ids, 100, 2), [101, 102, 105])
})

test('threads older than the main one (none in a process) and a short list are taken as they are', () => {
  assert.equal(v8HelperThreads([50, 100, 101, 102], 100, 4), [101, 102])
  assert.equal(v8HelperThreads([100], 100, 4), [])
})

test("the pool size is the command line's, else NODE_OPTIONS', else 4", () => {
  assert.is(v8PoolSize([]), 4)
  assert.is(v8PoolSize([], '--max-old-space-size=512 --v8-pool-size=2'), 2)
  assert.is(v8PoolSize(['--v8-pool-size', '3'], '--v8-pool-size=2'), 3)
  assert.is(v8PoolSize(['--v8-pool-size=6', '--import', 'tsx']), 6)
})

test('a pool size of 0 (Node picks it) or not a number leaves the default', () => {
  assert.is(v8PoolSize(['--v8-pool-size=0']), 4)
  assert.is(v8PoolSize(['--v8-pool-size=many']), 4)
  assert.is(v8PoolSize(['--v8-pool-size']), 4)
})

test.run()
