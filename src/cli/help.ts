import type { Command } from 'commander';

/**
 * Examples for every command's --help, in the style of gh: a few real lines, each with what it
 * does. Kept apart from the option definitions so they read as one document; a test checks
 * that every command has them and that every example parses.
 */
export const EXAMPLES: Record<string, Array<[string, string]>> = {
  token: [
    ['claude-wif token', 'a fresh access token on stdout'],
    ['curl -H "Authorization: Bearer $(claude-wif token)" -H "anthropic-beta: oauth-2025-04-20" …', 'use it in a script'],
    ['claude-wif --profile ci token --min-ttl 600', 'valid for at least ten more minutes'],
    ['claude-wif token --format json', 'the SDK credentials document plus expires_in'],
  ],
  env: [
    ['eval "$(claude-wif env)"', 'export it in sh, bash or zsh'],
    ['claude-wif env --format fish | source', 'in fish'],
    ['claude-wif env --target claude-code --format dotenv > .env', 'for Claude Code, as a dotenv file'],
    ['claude-wif env --format github', 'in a GitHub Actions step: mask and append to $GITHUB_ENV'],
  ],
  'credential-process': [
    ['claude-wif credential-process', 'one JSON document: access_token, expires_at, expiration'],
    ['claude-wif --profile ci credential-process --min-ttl 300', 'for a named profile, valid for five minutes at least'],
  ],
  status: [
    ['claude-wif status', 'which profile and inputs won, and why (offline)'],
    ['claude-wif --profile ci status --json', 'the same as JSON'],
  ],
  exec: [
    ['claude-wif exec -- claude -p "summarise README.md"', 'Claude Code, kept authenticated for the whole run'],
    ['claude-wif --profile ci exec --mode token -- ./call-api.sh', 'a short script with a token in its environment'],
    ['claude-wif exec --mode proxy -- python app.py', 'the app never holds a federated token'],
    ['claude-wif exec --mode federation -- claude -p "…"', 'the child exchanges; claude-wif keeps its identity file fresh'],
  ],
  proxy: [
    ['claude-wif proxy --listen 127.0.0.1:8787', 'serve the proxy; the secret goes to a 0600 file named in the JSON line'],
    ['claude-wif proxy --listen unix:/run/claude-wif/proxy.sock', 'on a unix socket'],
  ],
  agent: [
    ['claude-wif agent --dir /run/claude-wif --health :8081', 'keep the active profile\'s token fresh for other containers'],
    ['claude-wif agent prod staging --dir /run/claude-wif', 'two profiles; consumers set ANTHROPIC_PROFILE=staging for the second'],
    ['claude-wif agent --dir /run/claude-wif --proxy 127.0.0.1:8787', 'also serve the credential-injecting proxy'],
  ],
  identity: [
    ['claude-wif identity', 'the ambient JWT explained: source, claims, time left, checks'],
    ['claude-wif identity --json', 'the same as JSON (never the signature)'],
    ['claude-wif --identity-source gcp identity --audience https://api.anthropic.com', 'try another source and audience'],
  ],
  sandbox: [
    ['claude-wif sandbox --write-profile sandbox --activate', 'run the local emulator and make a profile for it active'],
    ['claude-wif sandbox --demo', 'the guided demo (npm start)'],
    ['claude-wif sandbox --platform github-actions', 'also play the GitHub Actions OIDC token service; prints its environment'],
  ],
  'csi-provider': [
    ['claude-wif csi-provider', 'serve on /var/run/secrets-store-csi-providers/claude-wif.sock'],
    ['claude-wif csi-provider --socket /tmp/claude-wif.sock', 'on another socket (tests, local runs)'],
  ],
  configure: [
    ['claude-wif configure', 'asks for each value on a terminal'],
    [
      'claude-wif configure --profile ci --organization-id <uuid> --federation-rule-id fdrl_… --identity-source github-actions --activate',
      'in a script: every value as a flag',
    ],
    ['claude-wif --profile ci configure --base-url https://api.anthropic.com --dry-run', 'show the change without writing it'],
  ],
  'profiles list': [
    ['claude-wif profiles list', 'every profile, the active one marked'],
    ['claude-wif profiles list --names', 'names only, one a line'],
  ],
  'profiles show': [
    ['claude-wif profiles show ci', 'one profile\'s fields and what they resolve to'],
    ['claude-wif profiles show --json', 'the active profile as JSON'],
  ],
  'profiles use': [['claude-wif profiles use ci', 'make "ci" active (writes active_config, which the SDKs read)']],
  doctor: [
    ['claude-wif doctor', 'every check, with the fix for each problem'],
    ['claude-wif doctor --offline', 'no network: files, configuration, identity from local sources'],
    ['claude-wif doctor --json > report.json', 'a redacted report to attach to a bug report'],
  ],
  'cache list': [['claude-wif cache list', 'every cached token, the single-use ledger and the locks']],
  'cache clear': [
    ['claude-wif --profile ci cache clear', 'forget that profile\'s token'],
    ['claude-wif cache clear --all', 'every token, the ledger and stale locks'],
  ],
  audit: [
    ['claude-wif audit', 'this directory, your shell start-up files, the SDK config dir, Claude Code settings and this environment'],
    ['claude-wif audit infra/ .github/ --format sarif > audit.sarif', 'SARIF for GitHub code scanning'],
    ['claude-wif audit --processes --format json', 'also the environments of your running processes, as JSON'],
  ],
  'cache forget': [
    ['claude-wif cache forget', 'after fixing a denied exchange: let the current identity JWT be sent once more (tokens stay)'],
    ['claude-wif cache forget --jti 5f0c…', 'forget one assertion by its jti'],
  ],
  completion: [
    ['claude-wif completion bash > ~/.local/share/bash-completion/completions/claude-wif', 'bash'],
    ['claude-wif completion zsh > "${fpath[1]}/_claude-wif"', 'zsh'],
    ['claude-wif completion fish > ~/.config/fish/completions/claude-wif.fish', 'fish'],
  ],
};

/** The full name of a (sub)command: "token", "profiles list". */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function render(examples: Array<[string, string]>): string {
  return `\nExamples:\n${examples.map(([line, what]) => `  # ${what}\n  $ ${line}\n`).join('')}`;
}

/** Adds the examples to every command that has them, and the global options to every help. */
export function addExamples(program: Command): void {
  const walk = (cmd: Command): void => {
    // Settings are copied to subcommands when they are created, so each one is set here.
    cmd.configureHelp({ ...cmd.configureHelp(), showGlobalOptions: true });
    for (const sub of cmd.commands) {
      const examples = EXAMPLES[commandPath(sub)];
      if (examples) sub.addHelpText('after', render(examples));
      walk(sub);
    }
  };
  walk(program);
}
