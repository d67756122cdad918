import { useApp, useInput } from 'ink';
import { useRef, useState } from 'react';
import { plainMessage } from '../cli/errors.js';
import { LoginScreen } from './components/LoginScreen.js';
import { NO_KEY } from './key-chunks.js';
import { afterRefusal, initialLoginForm, type LoginForm, loginKeys } from './login-form.js';
import { PasteReader, pastedLine } from './paste.js';

export type LoginResult = { token: string; username: string; userId: string; sessionId: string; url: string };

export type LoginProps = {
  initialUrl: string;
  /** Why the login screen is shown again (a saved session that ended), or null. */
  notice?: string | null;
  /** Logs in or registers; resolves with the session, or rejects with an error to show. */
  submit(mode: 'login' | 'register', url: string, username: string, password: string): Promise<LoginResult>;
  onDone(result: LoginResult): void;
  color: boolean;
};

/** The first-run screen: server URL, username, hidden password (twice to register); Ctrl-R switches login/register. */
export function Login({ initialUrl, notice, submit, onDone, color }: LoginProps) {
  const { exit } = useApp();
  // The form lives in a ref too: keys that arrive in one chunk apply one after the other.
  const formRef = useRef<LoginForm>(initialLoginForm(initialUrl));
  const [form, setForm] = useState<LoginForm>(formRef.current);
  const [error, setError] = useState<string | null>(null);
  const [info, setInfo] = useState<string | null>(notice ?? null);
  const busyRef = useRef(false);
  const [busy, setBusy] = useState(false);

  const [paste] = useState(() => new PasteReader());
  useInput((input, key) => {
    if (key.ctrl && input === 'c') return exit();
    // A paste is text for the field, on one line: its line breaks are not Enter.
    const step = paste.feed(input, key);
    if (step.kind === 'pasting') return;
    if (busyRef.current) return;
    const out =
      step.kind === 'paste'
        ? loginKeys(formRef.current, pastedLine(step.text), NO_KEY)
        : loginKeys(formRef.current, input, key);
    formRef.current = out.form;
    setForm(out.form);
    if (out.quit) return exit();
    if (!out.submit) return;
    busyRef.current = true;
    setBusy(true);
    setError(null);
    setInfo(null);
    const f = out.form;
    submit(f.mode, f.server, f.username, f.password).then(onDone, (err: unknown) => {
      busyRef.current = false;
      setBusy(false);
      // Refused by the server: the password is typed again (a wrong one is not left there to be
      // corrected blind). A server out of reach refused nothing: the form stays for another try.
      if (err instanceof Error && err.name === 'NatterError') {
        formRef.current = afterRefusal(formRef.current);
        setForm(formRef.current);
      }
      setError(err instanceof Error ? plainMessage(err) : String(err));
    });
  });

  return (
    <LoginScreen
      mode={form.mode}
      username={form.username}
      password={form.password}
      repeat={form.repeat}
      serverUrl={form.server}
      field={form.field}
      error={form.problem ?? error}
      info={info}
      busy={busy}
      hint="Tab/↑↓ fields · Enter next/submit · Ctrl-R login ⇄ register · Ctrl-C quit"
      color={color}
    />
  );
}
