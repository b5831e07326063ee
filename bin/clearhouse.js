#!/usr/bin/env node
// The `clearhouse` CLI, run from its TypeScript source so a checkout needs no build step.
const path = require('node:path')
require('ts-node').register({ transpileOnly: true, project: path.join(__dirname, '..', 'tsconfig.json') })
require('../sdk/cli/main.ts')
  .main(process.argv)
  .then((code) => process.exit(code))
