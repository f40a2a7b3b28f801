'use strict';
// The action's main step (action.yml `runs.main`).
require('./claude-wif-action.cjs').main();
