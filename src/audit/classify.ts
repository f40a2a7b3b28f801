import { basename, sep } from 'node:path';

/** What a file is, by its name and place: decides how its lines are read and what platform it runs on. */
export type FileKind =
  | 'dotenv'
  | 'shell'
  | 'dockerfile'
  | 'compose'
  | 'github-workflow'
  | 'github-action'
  | 'gitlab-ci'
  | 'circleci'
  | 'buildkite'
  | 'ci'
  | 'helm-values'
  | 'yaml'
  | 'claude-settings'
  | 'claude-login'
  | 'sdk-profile'
  | 'sdk-credentials'
  | 'systemd'
  | 'json'
  | 'script'
  | 'other';

const SHELL_STARTUP = new Set(['.bashrc', '.bash_profile', '.bash_login', '.profile', '.zshrc', '.zshenv', '.zprofile', '.zlogin', '.kshrc', '.mkshrc', 'config.fish', '.envrc', 'environment']);
const SCRIPT_EXT = /\.(sh|bash|zsh|ksh|fish|ps1|psm1|bat|cmd)$/i;
const CODE_EXT = /\.(py|js|mjs|cjs|ts|mts|cts|jsx|tsx|rb|go|rs|java|kt|kts|scala|php|pl|cs|swift|ex|exs|lua|r|ipynb|tf|hcl|tfvars|ini|cfg|conf|toml|properties|xml|txt|md)$/i;

export function classify(path: string): FileKind {
  const name = basename(path);
  const lower = name.toLowerCase();
  const p = path.split(sep).join('/');
  if (/(^|\/)\.github\/workflows\/[^/]+\.ya?ml$/i.test(p)) return 'github-workflow';
  if (/(^|\/)action\.ya?ml$/i.test(p)) return 'github-action';
  if (lower === '.gitlab-ci.yml' || lower === '.gitlab-ci.yaml' || /(^|\/)\.gitlab\/ci\/.+\.ya?ml$/i.test(p)) return 'gitlab-ci';
  if (/(^|\/)\.circleci\/[^/]+\.ya?ml$/i.test(p)) return 'circleci';
  if (/(^|\/)\.buildkite\/[^/]+\.ya?ml$/i.test(p) || lower === 'buildkite.yml' || lower === 'buildkite.yaml') return 'buildkite';
  if (lower === 'jenkinsfile' || lower === 'azure-pipelines.yml' || lower === 'azure-pipelines.yaml' || lower === 'bitbucket-pipelines.yml' || lower === '.drone.yml' || lower === '.travis.yml' || lower === 'cloudbuild.yaml' || lower === 'cloudbuild.yml' || lower === 'buildspec.yml' || /(^|\/)\.tekton\//.test(p)) return 'ci';
  if (/(^|\/)\.claude\/settings(\.local)?\.json$/.test(p) || lower === 'managed-settings.json') return 'claude-settings';
  if (/(^|\/)\.claude\/\.credentials\.json$/.test(p)) return 'claude-login';
  if (/(^|\/)configs\/[^/]+\.json$/.test(p) && /anthropic|claude-wif/i.test(p)) return 'sdk-profile';
  if (/(^|\/)credentials\/[^/]+\.json$/.test(p)) return 'sdk-credentials';
  if (/(^|\/)tokens\/[^/]+\.json$/.test(p) && /claude-wif/.test(p)) return 'sdk-credentials';
  if (lower === '.env' || lower.startsWith('.env.') || lower.endsWith('.env')) return 'dotenv';
  if (lower === 'dockerfile' || lower === 'containerfile' || lower.startsWith('dockerfile.') || lower.endsWith('.dockerfile')) return 'dockerfile';
  if (/^(docker-)?compose([.-][^/]*)?\.ya?ml$/.test(lower)) return 'compose';
  if (/^values([.-][^/]*)?\.ya?ml$/.test(lower)) return 'helm-values';
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return 'yaml';
  if (lower.endsWith('.service') || lower.endsWith('.socket') || lower.endsWith('.timer') || (lower.endsWith('.conf') && p.includes('/systemd/'))) return 'systemd';
  if (SHELL_STARTUP.has(name) || SCRIPT_EXT.test(lower)) return 'shell';
  if (lower.endsWith('.json')) return 'json';
  if (CODE_EXT.test(lower)) return 'script';
  return 'other';
}

/** Files never worth reading: archives, images, compiled code, media, fonts, databases. */
export const BINARY_EXT = new Set(
  (
    'png jpg jpeg gif webp bmp ico icns tif tiff psd svgz heic avif mp3 mp4 m4a m4v mov avi mkv webm wav flac ogg opus ' +
    'zip gz tgz bz2 xz zst lz4 7z rar tar jar war ear whl egg apk ipa dmg iso img deb rpm msi ' +
    'exe dll so dylib a o obj lib class pyc pyo wasm node bin dat db sqlite sqlite3 mdb ' +
    'pdf doc docx xls xlsx ppt pptx odt ods key pages numbers woff woff2 ttf otf eot ' +
    'pack idx lock-wal parquet avro orc npy npz pt pth onnx safetensors ckpt pb tflite h5 map'
  ).split(' '),
);

/** Directories skipped wherever they are: VCS metadata, dependencies, build caches. */
export const SKIP_DIRS = new Set([
  '.git', '.hg', '.svn', 'node_modules', 'bower_components', 'jspm_packages', '.pnpm-store', '.yarn', 'vendor',
  '__pycache__', '.venv', 'venv', '.tox', '.nox', '.mypy_cache', '.pytest_cache', '.ruff_cache', '.gradle', '.m2',
  '.terraform', '.next', '.nuxt', '.svelte-kit', '.turbo', '.parcel-cache', '.cache', 'target', '.idea', '.DS_Store',
]);
