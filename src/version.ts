declare const __CLAUDE_WIF_VERSION__: string | undefined;

/** Replaced at build time from package.json; "0.0.0-dev" when running from source (tests). */
export const VERSION: string = typeof __CLAUDE_WIF_VERSION__ === 'string' ? __CLAUDE_WIF_VERSION__ : '0.0.0-dev';

export const userAgent = (): string => `claude-wif/${VERSION} (node ${process.versions.node}; ${process.platform})`;
