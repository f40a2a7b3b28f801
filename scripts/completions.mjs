// Regenerates the checked-in completion scripts in completions/ from the built CLI (`npm run build` first).
// test/e2e/completion.test.ts fails when they drift from the command tree.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const files = { bash: 'claude-wif.bash', zsh: '_claude-wif', fish: 'claude-wif.fish', powershell: 'claude-wif.ps1' };
for (const [shell, file] of Object.entries(files)) {
  const script = execFileSync(process.execPath, [new URL('../bin/claude-wif', import.meta.url).pathname, 'completion', shell], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: '/nonexistent' } });
  writeFileSync(new URL(`../completions/${file}`, import.meta.url), script);
  console.log(`completions/${file}`);
}
