import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Bindings,
  bindingConflicts,
  DEFAULT_BINDINGS,
  KEY_ACTIONS,
  type KeyAction,
  parseBinding,
} from './keys.js';

const BASE_COLOURS = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'] as const;

/** Colour names Ink's `<Text color>` understands: the 16 terminal colours, `gray`/`grey`, and `#rgb`/`#rrggbb`. */
export const COLOUR_NAMES: readonly string[] = [
  ...BASE_COLOURS,
  ...BASE_COLOURS.map((c) => `${c}Bright`),
  'gray',
  'grey',
];

// The checks below are plain code rather than schemas: the app reads this file as it starts,
// and a schema library would cost more to load than the whole file takes to check.

/** A colour Ink can draw: a name it knows, or `#rgb`/`#rrggbb`. */
function isColour(value: unknown): value is string {
  return typeof value === 'string' && (COLOUR_NAMES.includes(value) || /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(value));
}
const COLOUR_EXPECTED = `expected a colour name (${BASE_COLOURS.join(', ')}, gray, redBright…) or #rrggbb`;

/** The colours of the app's roles. */
export type Theme = { accent: string; mention: string; self: string; muted: string; error: string };

/** The terminal app's settings, always complete. */
export type Config = {
  theme: Theme;
  /** False when `NO_COLOR` is set or the theme is `"none"`: draw without colour. */
  color: boolean;
  timeFormat: '24h' | '12h';
  notifications: Notifications;
  keys: Bindings;
  /** Wheel scrolling and clicks (the terminal's own text selection then needs Shift). */
  mouse: boolean;
  /** How images are previewed under their messages (see {@link previewMode}). */
  previews: PreviewSetting;
  /** The most terminal rows an image's preview takes. */
  previewRows: number;
  /** Where `s` saves a file; null: ~/Downloads when it exists, else the directory the app started in. */
  downloadDir: string | null;
};

/**
 * Image previews: `auto` (half blocks, unless colour is off), `halfblock`, or
 * `off`. `kitty` and `iterm` (the terminals' own picture protocols) are
 * understood and drawn as half blocks: see docs/tui.md for why.
 */
export type PreviewSetting = 'auto' | 'halfblock' | 'kitty' | 'iterm' | 'off';
const PREVIEW_SETTINGS: readonly PreviewSetting[] = ['auto', 'halfblock', 'kitty', 'iterm', 'off'];

/** The most rows `previewRows` may ask for. */
export const PREVIEW_ROWS_MAX = 40;

/** How desktop notifications reach the terminal: none, OSC 9 (iTerm2, Windows Terminal, WezTerm, Ghostty) or OSC 777 (foot, urxvt, VTE, WezTerm). */
export type DesktopNotifications = 'off' | 'osc9' | 'osc777';

/** What a mention, a highlight word or a direct message outside the open conversation does. */
export type Notifications = {
  /** Ring the terminal bell. */
  bell: boolean;
  onMention: boolean;
  onDirectMessage: boolean;
  /** A message held or a report made, for me to review (a moderator, an operator). */
  onReview: boolean;
  /** Words that count as a mention of me, whole words in any case and accents. */
  highlights: string[];
  /** A shell command run for each notification, with the details in NATTER_* variables; null: none. */
  command: string | null;
  /** A desktop notification through the terminal. */
  desktop: DesktopNotifications;
};

/** A loaded config and what was wrong with the file, in words (never fatal). */
export type LoadedConfig = { config: Config; warnings: string[]; path: string };

export const DEFAULT_THEME: Theme = { accent: 'cyan', mention: 'yellow', self: 'green', muted: 'gray', error: 'red' };

/** The settings used when `config.json` is missing. */
export const DEFAULT_CONFIG: Config = {
  theme: DEFAULT_THEME,
  color: true,
  timeFormat: '24h',
  notifications: {
    bell: true,
    onMention: true,
    onDirectMessage: true,
    onReview: true,
    highlights: [],
    command: null,
    desktop: 'off',
  },
  keys: DEFAULT_BINDINGS,
  mouse: true,
  previews: 'auto',
  previewRows: 12,
  downloadDir: null,
};

const THEME_KEYS = Object.keys(DEFAULT_THEME) as (keyof Theme)[];
const NOTIFICATION_KEYS = Object.keys(DEFAULT_CONFIG.notifications) as (keyof Config['notifications'])[];
const TOP_KEYS = ['theme', 'timeFormat', 'notifications', 'keys', 'mouse', 'previews', 'previewRows', 'downloadDir'];

/** Checks of the notification settings that are not flags: each says what it expected, in words. */
const NOTIFICATION_VALUES: Partial<
  Record<
    keyof Notifications,
    { check: (value: unknown) => { ok: true; value: unknown } | { ok: false }; expected: string }
  >
> = {
  highlights: {
    check: (value) => {
      if (!Array.isArray(value) || value.length > 100) return { ok: false };
      const words: string[] = [];
      for (const word of value) {
        if (typeof word !== 'string') return { ok: false };
        const trimmed = word.trim();
        if (trimmed.length < 1 || trimmed.length > 100) return { ok: false };
        words.push(trimmed);
      }
      return { ok: true, value: words };
    },
    expected: 'a list of up to 100 words, such as ["deploy", "outage"]',
  },
  command: {
    check: (value) => {
      if (value === null) return { ok: true, value: null };
      if (typeof value !== 'string') return { ok: false };
      const trimmed = value.trim();
      return trimmed.length >= 1 && trimmed.length <= 4000 ? { ok: true, value: trimmed } : { ok: false };
    },
    expected: 'a shell command or null',
  },
  desktop: {
    check: (value) => (value === 'off' || value === 'osc9' || value === 'osc777' ? { ok: true, value } : { ok: false }),
    expected: '"off", "osc9" or "osc777"',
  },
};

/** A section of settings: a JSON object (not an array). */
function isSection(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One key, or a list of at least one. */
function isKeyList(value: unknown): value is string | string[] {
  return (
    typeof value === 'string' || (Array.isArray(value) && value.length > 0 && value.every((k) => typeof k === 'string'))
  );
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/**
 * Reads the settings from the text of `config.json` (null: no file). Every
 * setting is checked on its own: a bad one is reported and its default kept,
 * the rest still apply.
 */
export function parseConfig(
  text: string | null,
  env: Readonly<Record<string, string | undefined>>,
): { config: Config; warnings: string[] } {
  const warnings: string[] = [];
  const theme: Theme = { ...DEFAULT_THEME };
  const notifications = { ...DEFAULT_CONFIG.notifications };
  const keys: Record<KeyAction, Bindings[KeyAction]> = { ...DEFAULT_BINDINGS };
  let timeFormat = DEFAULT_CONFIG.timeFormat;
  let themeNone = false;
  let mouse = DEFAULT_CONFIG.mouse;
  let previews = DEFAULT_CONFIG.previews;
  let previewRows = DEFAULT_CONFIG.previewRows;
  let downloadDir = DEFAULT_CONFIG.downloadDir;

  let raw: unknown = {};
  if (text !== null) {
    try {
      raw = JSON.parse(text);
    } catch (err) {
      warnings.push(`config.json is not valid JSON (${(err as Error).message}); using the defaults`);
    }
  }
  if (!isSection(raw)) {
    warnings.push('config.json should hold one JSON object; using the defaults');
  } else {
    const doc = raw;
    for (const key of Object.keys(doc)) {
      if (!TOP_KEYS.includes(key)) warnings.push(`unknown setting "${key}" (ignored)`);
    }

    if (doc.theme === 'none') {
      themeNone = true;
    } else if (doc.theme !== undefined) {
      if (!isSection(doc.theme)) {
        warnings.push('theme should be an object of colours, or "none"; using the default colours');
      } else {
        for (const [key, value] of Object.entries(doc.theme)) {
          if (!(THEME_KEYS as string[]).includes(key)) {
            warnings.push(`unknown setting "theme.${key}" (ignored; known: ${THEME_KEYS.join(', ')})`);
            continue;
          }
          if (isColour(value)) theme[key as keyof Theme] = value;
          else warnings.push(`theme.${key}: ${describe(value)} is not a colour; ${COLOUR_EXPECTED}`);
        }
      }
    }

    if (doc.timeFormat !== undefined) {
      if (doc.timeFormat === '24h' || doc.timeFormat === '12h') timeFormat = doc.timeFormat;
      else warnings.push(`timeFormat: expected "24h" or "12h", not ${describe(doc.timeFormat)}`);
    }

    if (doc.mouse !== undefined) {
      if (typeof doc.mouse === 'boolean') mouse = doc.mouse;
      else warnings.push(`mouse: expected true or false, not ${describe(doc.mouse)}`);
    }

    if (doc.previews !== undefined) {
      if ((PREVIEW_SETTINGS as readonly unknown[]).includes(doc.previews)) previews = doc.previews as PreviewSetting;
      else
        warnings.push(
          `previews: expected ${PREVIEW_SETTINGS.map((p) => `"${p}"`).join(', ')}, not ${describe(doc.previews)}`,
        );
    }

    if (doc.previewRows !== undefined) {
      const n = doc.previewRows;
      if (typeof n === 'number' && Number.isInteger(n) && n >= 2 && n <= PREVIEW_ROWS_MAX) previewRows = n;
      else warnings.push(`previewRows: expected a whole number from 2 to ${PREVIEW_ROWS_MAX}, not ${describe(n)}`);
    }

    if (doc.downloadDir !== undefined) {
      const d = doc.downloadDir;
      if (d === null || (typeof d === 'string' && d.trim() !== '')) downloadDir = d === null ? null : d.trim();
      else warnings.push(`downloadDir: expected a directory or null, not ${describe(d)}`);
    }

    if (doc.notifications !== undefined) {
      if (!isSection(doc.notifications)) {
        warnings.push('notifications should be an object; using the defaults');
      } else {
        for (const [key, value] of Object.entries(doc.notifications)) {
          if (!(NOTIFICATION_KEYS as string[]).includes(key)) {
            warnings.push(`unknown setting "notifications.${key}" (ignored; known: ${NOTIFICATION_KEYS.join(', ')})`);
            continue;
          }
          const check = NOTIFICATION_VALUES[key as keyof Notifications];
          if (check) {
            const parsed = check.check(value);
            if (parsed.ok) Object.assign(notifications, { [key]: parsed.value });
            else warnings.push(`notifications.${key}: expected ${check.expected}, not ${describe(value)}`);
            continue;
          }
          if (typeof value === 'boolean') Object.assign(notifications, { [key]: value });
          else warnings.push(`notifications.${key}: expected true or false, not ${describe(value)}`);
        }
      }
    }

    if (doc.keys !== undefined) {
      if (!isSection(doc.keys)) {
        warnings.push('keys should be an object of action: "key" pairs; using the default keys');
      } else {
        for (const [action, value] of Object.entries(doc.keys)) {
          if (!(KEY_ACTIONS as readonly string[]).includes(action)) {
            warnings.push(`keys: unknown action "${action}" (ignored; known: ${KEY_ACTIONS.join(', ')})`);
            continue;
          }
          if (!isKeyList(value)) {
            warnings.push(`keys.${action}: expected a key such as "ctrl+k" or a list of them`);
            continue;
          }
          const parsed = (typeof value === 'string' ? [value] : value).map(parseBinding);
          const bad = parsed.find((p) => !p.ok);
          if (bad && !bad.ok) {
            warnings.push(`keys.${action}: ${bad.message}; keeping the default`);
            continue;
          }
          keys[action as KeyAction] = parsed.flatMap((p) => (p.ok ? [p.binding] : []));
        }
        warnings.push(...bindingConflicts(keys).map((c) => `keys: ${c}`));
      }
    }
  }

  // https://no-color.org: any non-empty value turns colour off.
  const noColor = (env.NO_COLOR ?? '') !== '';
  return {
    config: {
      theme,
      color: !noColor && !themeNone,
      timeFormat,
      notifications,
      keys,
      mouse,
      previews,
      previewRows,
      downloadDir,
    },
    warnings,
  };
}

/**
 * Loads `config.json` from `configDir` (the directory the CLI resolves from
 * `--config-dir`/`NATTER_HOME`). A missing file means the defaults; an
 * unreadable or invalid one means defaults plus warnings. Never throws.
 */
export function loadConfig(configDir: string, env: Readonly<Record<string, string | undefined>>): LoadedConfig {
  const path = join(configDir, 'config.json');
  let text: string | null = null;
  const warnings: string[] = [];
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') warnings.push(`cannot read ${path} (${code ?? (err as Error).message}); using the defaults`);
  }
  const parsed = parseConfig(text, env);
  return { config: parsed.config, warnings: [...warnings, ...parsed.warnings], path };
}

/**
 * How previews are drawn with these settings: half blocks, or none. Without
 * colour (NO_COLOR, `"theme": "none"`) a half-block picture is a grey
 * rectangle, so there is none.
 */
export function previewMode(config: Pick<Config, 'previews' | 'color'>): 'halfblock' | 'off' {
  return config.previews === 'off' || !config.color ? 'off' : 'halfblock';
}

/** The rows an image's preview takes at most with these settings: 0 when previews are off. */
export function previewRows(config: Pick<Config, 'previews' | 'color' | 'previewRows'>): number {
  return previewMode(config) === 'off' ? 0 : config.previewRows;
}
