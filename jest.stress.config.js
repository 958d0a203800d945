'use strict';
/**
 * `npm run test:stress`: the concurrency stress run (test/stress/), against the same private
 * sshd fixture as `npm test` (which excludes test/stress/). One worker: the run itself is the load.
 */
const base = require('./jest.config.js');

module.exports = {
  ...base,
  roots: ['<rootDir>/test/stress'],
  testPathIgnorePatterns: ['/node_modules/'],
  maxWorkers: 1,
};
