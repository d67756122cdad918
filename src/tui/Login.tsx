import { useApp, useInput } from 'ink';
import { useState } from 'react';
import type { LoginField } from './components/LoginScreen.js';
import { LoginScreen } from './components/LoginScreen.js';

export type LoginResult = { token: string; username: string; userId: string; sessionId: string; url: string };

export type LoginProps = {
  initialUrl: string;
  /** Logs in or registers; resolves with the session, or rejects with an error to show. */
  submit(mode: 'login' | 'register', url: string, username: string, password: string): Promise<LoginResult>;
  onDone(result: LoginResult): void;
  color: boolean;
};

const FIELDS: LoginField[] = ['server', 'username', 'password'];

/** The first-run screen: server URL, username, hidden password; Tab switches login/register. */
export function Login({ initialUrl, submit, onDone, color }: LoginProps) {
  const { exit } = useApp();
  const [mode, setMode] = useState<'login' | 'register'>('login');
  const [values, setValues] = useState({ server: initialUrl, username: '', password: '' });
  const [field, setField] = useState<LoginField>('username');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useInput((input, key) => {
    if (key.ctrl && input === 'c') return exit();
    if (busy) return;
    if (key.tab && key.shift) return setMode((m) => (m === 'login' ? 'register' : 'login'));
    if (key.upArrow || key.downArrow || key.tab) {
      const i = FIELDS.indexOf(field) + (key.upArrow ? -1 : 1);
      return setField(FIELDS[(i + FIELDS.length) % FIELDS.length] ?? 'username');
    }
    if (key.return) {
      if (field !== 'password') return setField(field === 'server' ? 'username' : 'password');
      setBusy(true);
      setError(null);
      submit(mode, values.server, values.username, values.password).then(onDone, (err: unknown) => {
        setBusy(false);
        setError(err instanceof Error ? err.message : String(err));
      });
      return;
    }
    if (key.backspace || key.delete) return setValues((v) => ({ ...v, [field]: v[field].slice(0, -1) }));
    if (key.ctrl && input === 'r') return setMode((m) => (m === 'login' ? 'register' : 'login'));
    if (input && !key.ctrl && !key.meta && !key.escape)
      setValues((v) => ({ ...v, [field]: v[field] + input.replace(/[\r\n]/g, '') }));
  });

  return (
    <LoginScreen
      mode={mode}
      username={values.username}
      password={values.password}
      serverUrl={values.server}
      field={field}
      error={error}
      busy={busy}
      hint="Tab/↑↓ fields · Enter next/submit · Ctrl-R login ⇄ register · Ctrl-C quit"
      color={color}
    />
  );
}
