import { Argument, Command, CommanderError, Option } from 'commander';
import { makeContext, type CommandContext, type GlobalOptions, type Invocation } from './context.js';
import type { IO } from './io.js';
import { reportError } from './report-error.js';
import { VERSION } from '../version.js';
import { addExamples } from './help.js';
import { PLATFORMS } from '../sandbox/platforms.js';
import { allSourceFlags, sourceFlagHelp } from '../config/source-options.js';

export { reportError } from './report-error.js';

import { CACHE_BACKENDS, parseCacheBackend } from '../core/resolve.js';
import { ENV_COMMAND_FORMATS, TOKEN_FORMATS } from './option-values.js';
import { choiceOption, forceRefreshOption, minTtlOption, modeOption, targetOption } from './options.js';

/** A command's adapter: its parsed, typed options and its operands in; the exit code out. */
type Runner = (ctx: CommandContext, opts: never, input: Invocation) => Promise<number>;

/**
 * Builds the program: every command with its options (defined once, in options.ts), each
 * command's adapter imported only when it runs. `passthrough` is the command line after the first
 * `--` (exec's child). A fresh cached token never gets here: the hot entry (hot.ts) answers it.
 */
export function buildProgram(io: IO, setExit: (code: number) => void, passthrough?: string[]): Command {
  const program = new Command('claude-wif')
    .description('Anthropic Workload Identity Federation credential helper: ambient OIDC identity in, short-lived Anthropic tokens out.')
    .version(VERSION, '-V, --version')
    .option('-p, --profile <name>', 'profile to use (default: $ANTHROPIC_PROFILE, then federation env vars, then active_config/"default")')
    .option('--config-dir <dir>', 'SDK config directory (default: $ANTHROPIC_CONFIG_DIR or ~/.config/anthropic)')
    .option('--identity-source <name>', 'override the identity source (also CLAUDE_WIF_IDENTITY_SOURCE)')
    .addOption(cacheOption())
    .option('--debug', 'redacted diagnostics on stderr (also CLAUDE_WIF_LOG=debug)')
    .option('-q, --quiet', 'only errors on stderr')
    .option('--no-color', 'no colour (also NO_COLOR; colour is only ever used on a terminal)')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();

  const action =
    (load: () => Promise<Runner>) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      const opts = cmd.opts() as Record<string, unknown>;
      const ctx = makeContext(io, cmd.optsWithGlobals() as GlobalOptions);
      const input: Invocation = {
        args: cmd.args,
        passthrough,
        given: new Set(Object.keys(opts).filter((k) => cmd.getOptionValueSource(k) === 'cli')),
      };
      // The audit trail names the command that exchanged (token, env, exec, agent, proxy, …).
      ctx.deps.component = cmd.name();
      try {
        setExit(await (await load())(ctx, opts as never, input));
      } catch (err) {
        setExit(reportError(ctx, err, Boolean(opts['json']) || opts['format'] === 'json'));
      }
    };

  program
    .command('token')
    .description('print a fresh access token (sk-ant-oat01-…) and a newline on stdout')
    .addOption(minTtlOption('the token must be valid for at least this long'))
    .addOption(forceRefreshOption())
    .addOption(choiceOption('--format <format>', 'raw token, or the SDK credentials JSON plus expires_in', TOKEN_FORMATS).default('raw'))
    .action(action(async () => (await import('./commands/token.js')).runToken as Runner));

  program
    .command('env')
    .description('print variables for a shell to eval (sets a Bearer token with the oauth beta; clears competing credentials)')
    .addOption(choiceOption('--format <format>', 'output syntax (default: fish or powershell when that shell runs claude-wif, else sh)', ENV_COMMAND_FORMATS))
    .addOption(targetOption('sdk: ANTHROPIC_AUTH_TOKEN + ANTHROPIC_CUSTOM_HEADERS; claude-code: CLAUDE_CODE_OAUTH_TOKEN').default('sdk'))
    .addOption(minTtlOption('the token must be valid for at least this long'))
    .addOption(forceRefreshOption())
    .action(action(async () => (await import('./commands/env.js')).runEnv as Runner));

  program
    .command('credential-process')
    .description('print one JSON document with the token and its expiry (epoch seconds and RFC 3339)')
    .addOption(minTtlOption('the token must be valid for at least this long'))
    .addOption(forceRefreshOption())
    .action(action(async () => (await import('./commands/credential-process.js')).runCredentialProcess as Runner));

  program
    .command('status')
    .description('offline: which profile and inputs won and why, the cached token, shadowing variables')
    .option('--json', 'machine-readable output')
    .action(action(async () => (await import('./commands/status.js')).runStatus as Runner));

  program
    .command('exec')
    .description('run a command with federated credentials; the default sidecar mode keeps a long-running child (claude, SDK apps) authenticated')
    .usage('[options] -- <command> [args...]')
    .argument('[command...]', 'the command and its arguments, after `--` (default: $SHELL)')
    .addOption(
      modeOption(
        'sidecar: a private profile whose token file is kept fresh; token: a static token in the environment (short commands, curl); proxy: only a loopback URL and a session secret (the token never reaches the child); federation: the child exchanges for itself from a rotated identity file',
      ),
    )
    .addOption(targetOption('for --mode token/proxy: sdk (ANTHROPIC_AUTH_TOKEN + ANTHROPIC_CUSTOM_HEADERS) or claude-code (CLAUDE_CODE_OAUTH_TOKEN); default: claude-code when the command is `claude`'))
    .option('--scrub', 'set CLAUDE_CODE_SUBPROCESS_ENV_SCRUB=1 even where bubblewrap was not found (Claude Code then refuses to start without it); default: only where it was found')
    .option('--no-scrub', 'do not set CLAUDE_CODE_SUBPROCESS_ENV_SCRUB=1 (which keeps Claude Code from handing credentials to its tools, and needs bubblewrap)')
    .option('--allow-nested', 'allow running inside another `claude-wif exec`')
    .option('--isolate', 'Linux: run the child under bubblewrap in its own namespaces, with profiles, token caches, identity files, other users\' files and the parent\'s /proc out of sight and no network but the proxy (implies --mode proxy); refuses to run when isolation is unavailable')
    .option('--isolate-share-net', 'with --isolate: keep the host network (the child can then reach metadata servers and the token endpoint itself)')
    .option('--otel-identity', 'add the federated identity (service account, rule, subject) to the child\'s OTEL_RESOURCE_ATTRIBUTES (also CLAUDE_WIF_OTEL_IDENTITY=1, profile claude_wif.otel_identity)')
    .option('--pass-env <name>', 'let the child keep this identity variable (e.g. ACTIONS_ID_TOKEN_REQUEST_TOKEN for a step that needs OIDC for another cloud); repeatable; every identity variable is removed otherwise', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .addOption(minTtlOption('the first token must be valid for at least this long'))
    .option('--proxy-socket <path>', 'for --mode proxy: also listen on this unix socket (CLAUDE_WIF_PROXY_SOCKET in the child, for curl --unix-socket)')
    .action(action(async () => (await import('./commands/exec.js')).runExec as Runner));

  program
    .command('proxy')
    .description('run the credential-injecting loopback proxy: clients send the session secret, requests go upstream with a fresh federated token')
    .option('--listen <addr>', 'host:port on 127.0.0.1/[::1] (port 0 = any free port) or unix:/path; repeatable (default 127.0.0.1:0)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--secret-file <path>', 'write the session secret here (0600, removed on exit); default <cache dir>/proxy/proxy-<port>.secret')
    .option('--print-secret', 'put the session secret in the startup JSON on stdout instead of a file')
    .option('--health <addr>', 'serve /livez, /readyz and Prometheus /metrics here (host:port, default host 0.0.0.0)')
    .addHelpText('after', '\nstdout: one JSON line {"url", "socket", "upstream", "profile", "secret_file", "pid"} once listening.\nClients: ANTHROPIC_BASE_URL=<url> ANTHROPIC_AUTH_TOKEN="$(cat <secret_file>)"\n')
    .action(action(async () => (await import('./commands/proxy.js')).runProxy as Runner));

  program
    .command('agent')
    .description('keep profiles\' tokens fresh in a shared sidecar config dir (ANTHROPIC_CONFIG_DIR for other containers/services), optionally serving the proxy and health checks')
    .usage('[options] [profile...]')
    .argument('[profile...]', 'profiles to keep fresh (default: the one claude-wif would use); the first becomes active_config')
    .option('--dir <dir>', 'the shared directory (configs/, credentials/, active_config)')
    .option('--proxy <addr>', 'also serve the proxy for the first profile on this loopback address or unix socket')
    .option('--proxy-secret-file <path>', 'where the proxy\'s session secret goes (0600; default <dir>/proxy.secret)')
    .option('--health <addr>', 'serve /livez and /readyz here (host:port, default host 0.0.0.0 for kubelet probes)')
    .addHelpText('after', '\nConsumers: ANTHROPIC_CONFIG_DIR=<dir> (and ANTHROPIC_PROFILE=<name> for any profile but the first).\n')
    .action(action(async () => (await import('./commands/agent.js')).runAgent as Runner));

  program
    .command('identity')
    .description('fetch the ambient identity JWT and explain it: source and why, decoded header and claims, time left, checks against the profile')
    .option('--json', 'machine-readable output')
    .option('--raw', 'print the JWT itself (with --json: add it as "jwt")')
    .option('--audience <audience>', 'audience to request (also CLAUDE_WIF_AUDIENCE; default https://api.anthropic.com, Entra: the resource)')
    .action(action(async () => (await import('./commands/identity.js')).runIdentity as Runner));

  program
    .command('sandbox')
    .description('run the local WIF emulator (OIDC issuer + token endpoint + API) and print a ready profile')
    .option('--port <port>', 'listen port on 127.0.0.1 (default: a free port)')
    .option('--config <file>', 'sandbox configuration JSON (issuers, service accounts, rules)')
    .option('--token-lifetime <seconds>', 'token_lifetime_seconds of the default rule')
    .option('--jwt-lifetime <seconds>', 'lifetime of the identity JWTs the sandbox writes')
    .option('--write-profile <name>', 'write configs/<name>.json (and a rotating identity token file) into the config dir')
    .option('--activate', 'with --write-profile: make it the active profile (active_config)')
    .option('--demo', 'run the end-to-end demo (issuer → exchange → cache → API call → child process) and exit')
    .addOption(new Option('--platform <name>', 'also play this platform\'s identity side: the GitHub Actions OIDC token service, a GitLab job\'s id_tokens variable, or a kubelet-rotated projected token file').choices([...PLATFORMS]))
    .option('--write-env <file>', 'with --platform: write that platform\'s environment as sh exports (0600), to `.` in a shell')
    .action(action(async () => (await import('./commands/sandbox.js')).runSandbox as Runner));

  program
    .command('csi-provider')
    .description('serve the Secrets Store CSI driver provider API (gRPC v1alpha1 on a unix socket): pods get federated tokens from their service-account tokens, one DaemonSet per node')
    .option('--socket <path>', 'the unix socket the driver connects to (default /var/run/secrets-store-csi-providers/claude-wif.sock)')
    .option('--rotation-interval <seconds>', 'longest gap between two rotation Mounts of a volume (driver --rotation-poll-interval plus kubelet\'s republish period); default 180')
    .option('--max-cached <n>', 'most pod tokens kept in memory (least recently used go first); default 10000')
    .addHelpText('after', '\nstdout: one JSON line {"socket", "provider", "rotation_interval", "pid"} once listening. Deploy: deploy/ (Helm chart and plain manifests).\n')
    .action(action(async () => (await import('./commands/csi-provider.js')).runCsiProvider as Runner));

  registerOperatorCommands(program, action);

  addExamples(program);
  return program;
}

type ActionFactory = (load: () => Promise<Runner>) => (...args: unknown[]) => Promise<void>;

/** configure, profiles, doctor, cache, completion (issue 6); each runner is imported only when used. */
function registerOperatorCommands(program: Command, action: ActionFactory): void {
  const configure = program
    .command('configure')
    .description('create or edit an SDK-compatible profile (asks on a terminal; flags otherwise); prints the profile path')
    .option('--organization-id <uuid>', 'organization UUID')
    .option('--federation-rule-id <id>', 'federation rule (fdrl_…)')
    .option('--service-account-id <id>', 'service account (svac_…); "" removes it')
    .option('--workspace-id <id>', 'workspace (wrkspc_… or default); "" removes it')
    .option('--base-url <url>', 'API base URL (default https://api.anthropic.com)');
  for (const o of allSourceFlags()) configure.option(`--${o.flag} <value>`, sourceFlagHelp(o));
  configure
    .option('--identity-option <key=value>', 'any other identity-source option (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--activate', 'also make it the active profile (writes active_config)')
    .option('--dry-run', 'show the diff and print the document; write nothing')
    .option('-y, --yes', 'overwrite an existing profile without asking')
    .option('--no-input', 'never prompt, even on a terminal')
    .addHelpText('after', '\nThe identity source is the global --identity-source; the cache backend the global --cache.\nOff a terminal every required value must be a flag; the error names the missing ones.')
    .action(action(async () => (await import('./commands/configure.js')).runConfigure as Runner));

  const profiles = program.command('profiles').description('list, show and activate profiles');
  profiles
    .command('list')
    .description('every profile in the config dir, the active one marked (and why it is active)')
    .option('--json', 'machine-readable output')
    .option('--names', 'profile names only, one per line (for scripts and shell completion)')
    .action(action(async () => (await import('./commands/profiles.js')).runProfilesList as Runner));
  profiles
    .command('show [name]')
    .description('one profile (default: the active one) and what it resolves to; never a secret')
    .option('--json', 'machine-readable output')
    .action(action(async () => (await import('./commands/profiles.js')).runProfilesShow as Runner));
  profiles
    .command('use <name>')
    .description('make a profile the active one (writes active_config)')
    .action(action(async () => (await import('./commands/profiles.js')).runProfilesUse as Runner));

  program
    .command('doctor')
    .description('check everything that can break federation and print each fix; exits non-zero when a check fails')
    .option('--json', 'a redacted report to paste into a bug')
    .option('--offline', 'no network: skip the endpoint, clock-skew and exchange checks and network identity sources')
    .action(action(async () => (await import('./commands/doctor.js')).runDoctor as Runner));

  program
    .command('audit')
    .description('find every place an Anthropic credential is configured or injected, static or federated, with the migration for each; exit 7 while a static path remains')
    .usage('[options] [path...]')
    .argument('[path...]', 'files or directories to scan (default: the current directory); home start-up files, the SDK config dir, Claude Code settings and this environment are always checked')
    .addOption(new Option('--format <format>', 'text, json (stable document) or sarif (SARIF 2.1.0, for code scanning)').choices(['text', 'json', 'sarif']).default('text'))
    .option('--processes', 'also read the environments of this user\'s running processes (/proc/<pid>/environ)')
    .option('--max-file-size <bytes>', 'skip files larger than this (default 1048576)')
    .action(action(async () => (await import('./commands/audit.js')).runAudit as Runner));

  const cache = program.command('cache').description('inspect or drop cached tokens and the single-use ledger');
  cache
    .command('list')
    .description('what is cached where: tokens per profile (file or keyring), env-only tokens, ledger, locks')
    .option('--json', 'machine-readable output')
    .action(action(async () => (await import('./commands/cache.js')).runCacheList as Runner));
  cache
    .command('clear')
    .description('remove the cached token of the selected profile (or --profile p); --all removes every token, the ledger and stale locks')
    .option('--all', 'every cached token of every profile, the env-only tokens, the ledger and stale locks')
    .option('--json', 'machine-readable output')
    .action(action(async () => (await import('./commands/cache.js')).runCacheClear as Runner));
  cache
    .command('forget')
    .description('forget that the current identity JWT (or --jti) was sent, so the next exchange sends it once more; tokens stay')
    .option('--jti <id>', 'forget this jti of the identity JWT\'s issuer instead of the current JWT')
    .option('--json', 'machine-readable output')
    .action(action(async () => (await import('./commands/cache.js')).runCacheForget as Runner));

  program
    .command('completion')
    .description('print a shell completion script (bash, zsh, fish, powershell)')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish', 'powershell']))
    .action(action(async () => (await import('./commands/completion.js')).runCompletion as Runner));
}

/** Runs the CLI in-process against the given IO; resolves to the exit code. */
export async function run(argv: string[], io: IO): Promise<number> {
  let exitCode = 0;
  // Everything after the first `--` is the child's command line (exec): split off once, here.
  const at = argv.indexOf('--');
  const program = buildProgram(io, (c) => (exitCode = c), at >= 0 ? argv.slice(at + 1) : undefined);
  // The completion scripts' query: its words are the user's half-typed line, never parsed as options.
  if (argv[0] === '__complete') return (await import('./commands/completion.js')).runComplete(io, argv.slice(1), program);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit 0; everything else is a usage error (exit 2).
      if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2;
    }
    const ctx = makeContext(io, {});
    return reportError(ctx, err, false);
  }
  return exitCode;
}

/** --cache, checked by the resolver's own rule for the setting (which also covers CLAUDE_WIF_CACHE and the profile). */
const cacheOption = (): Option =>
  choiceOption('--cache <backend>', 'token cache: file (default, shared with the SDKs) or keyring (the OS keyring; also CLAUDE_WIF_CACHE)', CACHE_BACKENDS, (v) => parseCacheBackend(v, 'flag --cache'));
