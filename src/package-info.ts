import { readFileSync } from 'node:fs';

// src/package-info.ts and dist/package-info.js both sit one level below the package root.
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** natter's version, from package.json. */
export const VERSION: string = pkg.version;
