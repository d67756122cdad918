import { useApp, useInput } from 'ink';
import { useEffect, useRef, useState } from 'react';
import { plainMessage } from '../cli/errors.js';
import { LoginScreen } from './components/LoginScreen.js';
import { NO_KEY } from './key-chunks.js';
import {
  afterRefusal,
  emailToSend,
  initialLoginForm,
  inviteToSend,
  type LoginForm,
  loginKeys,
  type MailMode,
  mailOf,
  type RegistrationMode,
  registrationOf,
  withRegistration,
} from './login-form.js';
import { PasteReader, pastedLine } from './paste.js';

export type LoginResult = { token: string; username: string; userId: string; sessionId: string; url: string };

export type LoginProps = {
  initialUrl: string;
  /** Why the login screen is shown again (a saved session that ended), or null. */
  notice?: string | null;
  /**
   * Logs in or registers (with an invite code where the server asks for
   * one); resolves with the session, or rejects with an error to show.
   */
  submit(
    mode: 'login' | 'register',
    url: string,
    username: string,
    password: string,
    invite: string | null,
    email?: string | null,
  ): Promise<LoginResult>;
  /**
   * Asks the server at `url` who may register there (its `hello`), and
   * whether it takes or requires an email address; rejects when it cannot be reached.
   */
  probe?(url: string): Promise<RegistrationMode | { mode: RegistrationMode; mail: MailMode | null }>;
  onDone(result: LoginResult): void;
  color: boolean;
};

/** The first-run screen: server URL, username, hidden password (twice to register); Ctrl-R switches login/register. */
export function Login({ initialUrl, notice, submit, probe, onDone, color }: LoginProps) {
  const { exit } = useApp();
  // The form lives in a ref too: keys that arrive in one chunk apply one after the other.
  const formRef = useRef<LoginForm>(initialLoginForm(initialUrl));
  const [form, setForm] = useState<LoginForm>(formRef.current);
  const [error, setError] = useState<string | null>(null);
  const [info, setInfo] = useState<string | null>(notice ?? null);
  const busyRef = useRef(false);
  const [busy, setBusy] = useState(false);

  const [paste] = useState(() => new PasteReader());

  // Registering: ask the server who it takes, once its address is typed (not at each key of it).
  const asking = form.mode === 'register' && form.field !== 'server' && registrationOf(form) === null;
  const askedRef = useRef<string | null>(null);
  useEffect(() => {
    if (!asking || !probe || askedRef.current === form.server) return;
    const url = form.server;
    askedRef.current = url;
    // Out of reach: nothing to show; the submit will say why.
    probe(url).then(
      (said) => {
        const { mode, mail } = typeof said === 'string' ? { mode: said, mail: null } : said;
        formRef.current = withRegistration(formRef.current, url, mode, mail);
        setForm(formRef.current);
      },
      () => {},
    );
  }, [asking, form.server]);
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
    submit(f.mode, f.server, f.username, f.password, inviteToSend(f), emailToSend(f)).then(onDone, (err: unknown) => {
      busyRef.current = false;
      setBusy(false);
      // Refused by the server: the password is typed again (a wrong one is not left there to be
      // corrected blind), or the invite code when that was what it refused. A server out of
      // reach refused nothing: the form stays for another try.
      if (err instanceof Error && err.name === 'NatterError') {
        const field = (err as { field?: unknown }).field;
        formRef.current = afterRefusal(formRef.current, typeof field === 'string' ? field : undefined);
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
      invite={form.invite}
      email={form.email}
      mail={form.mode === 'register' ? mailOf(form) : null}
      registration={form.mode === 'register' ? registrationOf(form) : null}
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
