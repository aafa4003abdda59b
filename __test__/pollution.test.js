'use strict'

// ipv4-force reads its own options from own properties only: a polluted Object.prototype (a
// common bug class in apps that merge user JSON) must not redirect every lookup of the process.

const path = require('node:path')
const { describeInNamespace, runInNamespace } = require('./helpers/netns')

describeInNamespace('prototype pollution', () => {
  test('option names on Object.prototype change nothing, also through register', async () => {
    const run = await runInNamespace({
      script: path.join(__dirname, 'fixtures', 'pollution', 'polluted.js'),
      etc: { 'resolv.conf': 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n', hosts: '127.0.0.1 localhost\n' },
    })
    expect(run.stderr).toBe('')
    expect(JSON.parse(run.stdout)).toEqual({
      connectByName: '127.0.0.1',
      connectIPv6Literal: 'EAFNOSUPPORT',
      resolveWithEmptyOptions: ['127.0.0.1'],
      resolveWithoutOptions: ['127.0.0.1'],
      hostileQueries: 0,
    })
  })
})
