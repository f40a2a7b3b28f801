'use strict';
// The action's post step (action.yml `runs.post`): removes every token the job cached.
require('./claude-wif-action.cjs').post();
