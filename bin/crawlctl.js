#!/usr/bin/env node
// Compiled by `npm install` (the prepare script), so the command works with no build step of its own.
require('../out/server/src/cli/crawlctl.js');
