// Runs before every test file: scrub the inherited environment so no test can see the runner's
// real credentials or platform signals (ACTIONS_ID_TOKEN_*, AWS_*, AZURE_*, …).
import { scrubProcessEnv } from './env.js';

scrubProcessEnv();
