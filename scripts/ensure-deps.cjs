#!/usr/bin/env node
// Runs before `npm start` and `npm test` (as prestart/pretest), on whatever Node the machine has
// (often only Node 20): installs the locked dependencies, which include Node 24 itself, when
// node_modules is missing or older than package-lock.json. So the README's two commands work on
// a fresh clone without a separate install step.
'use strict';
const { execSync } = require('node:child_process');
const { existsSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const marker = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
const node24 = join(root, 'node_modules', '.bin', 'node');

const stale = !existsSync(marker) || !existsSync(node24) || statSync(marker).mtimeMs < statSync(lock).mtimeMs;
if (stale) {
  console.log('dermbridge: installing locked dependencies (npm ci, includes Node 24)...');
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}
