import { createContext, useContext } from 'react';
import { DEFAULT_THEME, type Theme } from './config.js';

/** The colours of config.json's `theme`, for every component below the app. */
export const ThemeContext = createContext<Theme>(DEFAULT_THEME);

/** The theme in force. */
export function useTheme(): Theme {
  return useContext(ThemeContext);
}

/** A segment colour: a theme role (`accent`, `mention`, `self`, `muted`, `error`) or a plain colour name. */
export function resolveColor(theme: Theme, color: string | undefined): string | undefined {
  if (color === undefined) return undefined;
  return Object.hasOwn(theme, color) ? theme[color as keyof Theme] : color;
}
