import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
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

const COLOUR_EXPECTED = `expected a colour name (${BASE_COLOURS.join(', ')}, gray, redBright…) or #rrggbb`;
// The same words whether the value is not text or not a colour: the warning is shown in the app.
const Colour = z
  .string({ error: COLOUR_EXPECTED })
  .refine((s) => COLOUR_NAMES.includes(s) || /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(s), { message: COLOUR_EXPECTED });

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
};

/** How desktop notifications reach the terminal: none, OSC 9 (iTerm2, Windows Terminal, WezTerm, Ghostty) or OSC 777 (foot, urxvt, VTE, WezTerm). */
export type DesktopNotifications = 'off' | 'osc9' | 'osc777';

/** What a mention, a highlight word or a direct message outside the open conversation does. */
export type Notifications = {
  /** Ring the terminal bell. */
  bell: boolean;
  onMention: boolean;
  onDirectMessage: boolean;
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
  notifications: { bell: true, onMention: true, onDirectMessage: true, highlights: [], command: null, desktop: 'off' },
  keys: DEFAULT_BINDINGS,
  mouse: true,
};

const THEME_KEYS = Object.keys(DEFAULT_THEME) as (keyof Theme)[];
const NOTIFICATION_KEYS = Object.keys(DEFAULT_CONFIG.notifications) as (keyof Config['notifications'])[];
const TOP_KEYS = ['theme', 'timeFormat', 'notifications', 'keys', 'mouse'];

const TimeFormat = z.enum(['24h', '12h']);
/** Checks of the notification settings that are not flags: each says what it expected, in words. */
const NOTIFICATION_VALUES: Partial<Record<keyof Notifications, { schema: z.ZodType; expected: string }>> = {
  highlights: {
    schema: z.array(z.string().trim().min(1).max(100)).max(100),
    expected: 'a list of up to 100 words, such as ["deploy", "outage"]',
  },
  command: { schema: z.string().trim().min(1).max(4000).nullable(), expected: 'a shell command or null' },
  desktop: { schema: z.enum(['off', 'osc9', 'osc777']), expected: '"off", "osc9" or "osc777"' },
};
const Flag = z.boolean();
const KeyList = z.union([z.string(), z.array(z.string()).min(1)]);
const Section = z.record(z.string(), z.unknown());

function problem(error: z.ZodError): string {
  return error.issues[0]?.message ?? 'invalid';
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

  let raw: unknown = {};
  if (text !== null) {
    try {
      raw = JSON.parse(text);
    } catch (err) {
      warnings.push(`config.json is not valid JSON (${(err as Error).message}); using the defaults`);
    }
  }
  const top = Section.safeParse(raw);
  if (!top.success || Array.isArray(raw)) {
    warnings.push('config.json should hold one JSON object; using the defaults');
  } else {
    const doc = top.data;
    for (const key of Object.keys(doc)) {
      if (!TOP_KEYS.includes(key)) warnings.push(`unknown setting "${key}" (ignored)`);
    }

    if (doc.theme === 'none') {
      themeNone = true;
    } else if (doc.theme !== undefined) {
      const section = Section.safeParse(doc.theme);
      if (!section.success || Array.isArray(doc.theme)) {
        warnings.push('theme should be an object of colours, or "none"; using the default colours');
      } else {
        for (const [key, value] of Object.entries(section.data)) {
          if (!(THEME_KEYS as string[]).includes(key)) {
            warnings.push(`unknown setting "theme.${key}" (ignored; known: ${THEME_KEYS.join(', ')})`);
            continue;
          }
          const colour = Colour.safeParse(value);
          if (colour.success) theme[key as keyof Theme] = colour.data;
          else warnings.push(`theme.${key}: ${describe(value)} is not a colour; ${problem(colour.error)}`);
        }
      }
    }

    if (doc.timeFormat !== undefined) {
      const format = TimeFormat.safeParse(doc.timeFormat);
      if (format.success) timeFormat = format.data;
      else warnings.push(`timeFormat: expected "24h" or "12h", not ${describe(doc.timeFormat)}`);
    }

    if (doc.mouse !== undefined) {
      const flag = Flag.safeParse(doc.mouse);
      if (flag.success) mouse = flag.data;
      else warnings.push(`mouse: expected true or false, not ${describe(doc.mouse)}`);
    }

    if (doc.notifications !== undefined) {
      const section = Section.safeParse(doc.notifications);
      if (!section.success || Array.isArray(doc.notifications)) {
        warnings.push('notifications should be an object; using the defaults');
      } else {
        for (const [key, value] of Object.entries(section.data)) {
          if (!(NOTIFICATION_KEYS as string[]).includes(key)) {
            warnings.push(`unknown setting "notifications.${key}" (ignored; known: ${NOTIFICATION_KEYS.join(', ')})`);
            continue;
          }
          const check = NOTIFICATION_VALUES[key as keyof Notifications];
          if (check) {
            const parsed = check.schema.safeParse(value);
            if (parsed.success) Object.assign(notifications, { [key]: parsed.data });
            else warnings.push(`notifications.${key}: expected ${check.expected}, not ${describe(value)}`);
            continue;
          }
          const flag = Flag.safeParse(value);
          if (flag.success) Object.assign(notifications, { [key]: flag.data });
          else warnings.push(`notifications.${key}: expected true or false, not ${describe(value)}`);
        }
      }
    }

    if (doc.keys !== undefined) {
      const section = Section.safeParse(doc.keys);
      if (!section.success || Array.isArray(doc.keys)) {
        warnings.push('keys should be an object of action: "key" pairs; using the default keys');
      } else {
        for (const [action, value] of Object.entries(section.data)) {
          if (!(KEY_ACTIONS as readonly string[]).includes(action)) {
            warnings.push(`keys: unknown action "${action}" (ignored; known: ${KEY_ACTIONS.join(', ')})`);
            continue;
          }
          const list = KeyList.safeParse(value);
          if (!list.success) {
            warnings.push(`keys.${action}: expected a key such as "ctrl+k" or a list of them`);
            continue;
          }
          const parsed = (typeof list.data === 'string' ? [list.data] : list.data).map(parseBinding);
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
    config: { theme, color: !noColor && !themeNone, timeFormat, notifications, keys, mouse },
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
