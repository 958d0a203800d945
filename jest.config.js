'use strict';
const fs = require('fs');
const path = require('path');
/** Jest configuration: TypeScript tests, one private sshd per run (test/fixtures/); test/stress/ excluded. */
module.exports = {
  testEnvironment: 'node',
  roots: ['test', 'examples'].filter((d) => fs.existsSync(path.join(__dirname, d))).map((d) => `<rootDir>/${d}`),
  testMatch: ['**/*.test.ts'],
  // test/stress/ is `npm run test:stress` (jest.stress.config.js), not part of `npm test`.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/stress/'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  globalSetup: '<rootDir>/test/fixtures/global-setup.ts',
  globalTeardown: '<rootDir>/test/fixtures/global-teardown.ts',
  testTimeout: 60000,
  maxWorkers: 2,
};
