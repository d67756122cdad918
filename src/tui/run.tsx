import { writeSync } from 'node:fs';
import chalk from 'chalk';
import { render, Text, useApp, useInput } from 'ink';
import { useEffect, useState } from 'react';
import { connectionError, findToken, type Globals, readCa, saveCredential, tlsOptions } from '../cli/util.js';
import { NatterClient } from '../client/client.js';
import { Natter } from '../client/natter.js';
import { parseServerList } from '../client/servers.js';
import { App } from './App.js';
import { composerFile } from './composer-file.js';
import { loadConfig } from './config.js';
import { Controller, errorText } from './controller.js';
import { Files } from './files.js';
import { Login, type LoginResult } from './Login.js';
import type { MailMode, RegistrationMode } from './login-form.js';
import { MOUSE_OFF, MOUSE_ON } from './mouse.js';
import { PASTE_OFF, PASTE_ON } from './paste.js';
import { initialState } from './reducer.js';
import { Store } from './store.js';

/** A session's chat: its state, and the controller with the reconnecting client. */
type Chat = {
  session: { url: string; token: string };
  store: Store;
  controller: Controller;
  /** Uploads, downloads and image previews. */
  files: Files;
  /** Resolves once the client stops trying: with why (refused, unreachable for good), or null once connected. */
  outcome: Promise<unknown>;
};

/**
 * Asks the server at `url` who may register there (its `hello`; older
 * servers say nothing: anyone), and whether it takes or requires an email address.
 */
async function registrationAt(
  ca: string | undefined,
  url: string,
): Promise<{ mode: RegistrationMode; mail: MailMode | null }> {
  parseServerList(url);
  const client = await NatterClient.connect(url, { timeoutMs: 10_000, ...tlsOptions(url, ca) });
  client.close();
  const hello = client.hello;
  const mail = hello.emailRequired === true ? 'required' : hello.mail === true ? 'optional' : null;
  return { mode: hello.registration ?? 'open', mail };
}

/** Logs in or registers (with `invite`, a code, when given) on a one-off connection and returns the session. */
async function authenticate(
  ca: string | undefined,
  mode: 'login' | 'register',
  url: string,
  username: string,
  password: string,
  invite: string | null,
  email: string | null = null,
): Promise<LoginResult> {
  // A mistyped server list is said as it is, not as a server out of reach.
  parseServerList(url);
  let client: NatterClient;
  try {
    client = await NatterClient.connect(url, { timeoutMs: 10_000, ...tlsOptions(url, ca) });
  } catch (err) {
    throw new Error(connectionError(url, err).message);
  }
  try {
    const params = { username, password, client: 'natter-tui', presence: false };
    const res =
      mode === 'register'
        ? await client.request('register', {
            ...params,
            ...(invite !== null ? { invite } : {}),
            ...(email !== null ? { email } : {}),
          })
        : await client.request('login', params);
    return { token: res.token, username: res.user.username, userId: res.user.id, sessionId: res.session.id, url };
  } finally {
    client.close();
  }
}

/**
 * Runs the terminal app until the user quits: the login screen first when
 * there are no saved credentials for the server, then the chat.
 */
export async function runTui(g: Globals): Promise<void> {
  const { config, warnings } = loadConfig(g.configDir, process.env);
  // A --ca file that cannot be used is a usage error before anything is drawn.
  const ca = readCa(g);
  const found = findToken(g);
  const drafts = composerFile(g.configDir);
  // Whether the chat ever reached the server, and why not (for the exit status).
  let everConnected = false;
  let lastError: string | null = null;

  /**
   * The chat for a session: its state, and the client, already connecting
   * (until the server answers, however long that takes; the status line says
   * "connecting" or "reconnecting in N s", and Ctrl-R tries at once).
   * `outcome` resolves with the error that made it give up, or null.
   */
  function openChat(session: { url: string; token: string }): Chat {
    const store = new Store(initialState(session.url));
    const client = Natter.create({
      url: session.url,
      token: session.token,
      ...tlsOptions(session.url, ca),
      // One person's client: back within 2 s of the server.
      backoff: { initialMs: 250, maxMs: 2000 },
    });
    // The conversation open when the app was last used opens again.
    const controller = new Controller(client, store.dispatch, store.get, { open: drafts.saved.open });
    const files = new Files(client, store.dispatch, {
      env: process.env,
      downloadDir: config.downloadDir,
      cwd: process.cwd(),
      platform: process.platform,
    });
    // One notice for them all, kept while the first conversation opens; F1 lists every one.
    const firstWarning = warnings[0];
    if (firstWarning !== undefined) {
      const more = warnings.length > 1 ? ` (and ${warnings.length - 1} more: F1 lists them)` : '';
      store.dispatch({ type: 'notice', text: `config.json: ${firstWarning}${more}`, level: 'error', app: true });
    }
    client.on('state', (st) => {
      if (st.status === 'connected') everConnected = true;
      else if (st.status === 'reconnecting') lastError = st.error;
    });
    const outcome = client.start({ untilConnected: true }).then(
      () => null,
      (err: unknown) => err,
    );
    return { session, store, controller, files, outcome };
  }

  // With saved credentials the connection starts now, while the first frame is drawn.
  const first = found ? openChat({ url: g.server, token: found.token }) : null;

  function Root() {
    const [session, setSession] = useState<{ url: string; token: string } | null>(first?.session ?? null);
    const [chat, setChat] = useState<Chat | null>(first);
    const [failure, setFailure] = useState<string | null>(null);
    const [loginNotice, setLoginNotice] = useState<string | null>(null);
    const { exit } = useApp();
    // Always listening, so the terminal stays in raw mode from the first frame to the last:
    // a Ctrl-C between screens (while connecting) is a key that quits, never a SIGINT.
    useInput((input, key) => {
      if (!chat && session && key.ctrl && input === 'c') exit();
    });
    useEffect(() => {
      if (!session) return;
      const current = chat?.session === session ? chat : openChat(session);
      if (current !== chat) setChat(current);
      let live = true;
      current.outcome.then((err) => {
        if (!live || err === null) return;
        const refused = (err as { code?: string }).code === 'unauthenticated';
        setChat(null);
        if (refused) {
          // The saved session is gone (logged out elsewhere, password changed): log in again.
          saveCredential(g.configDir, session.url, null);
          setLoginNotice(
            `your saved session on ${session.url} has ended (logged out elsewhere, or the password changed): log in again`,
          );
          setSession(null);
        } else {
          setFailure(
            (err as Error).name === 'NatterError'
              ? `${session.url}: ${errorText(err)}`
              : connectionError(session.url, err).message,
          );
        }
      });
      return () => {
        live = false;
        current.controller.client.close();
      };
    }, [session]);
    if (!session) {
      return (
        <Login
          initialUrl={g.server}
          notice={loginNotice}
          color={config.color}
          submit={(mode, url, username, password, invite, email) =>
            authenticate(ca, mode, url, username, password, invite, email ?? null)
          }
          probe={(url) => registrationAt(ca, url)}
          onDone={(r) => {
            saveCredential(g.configDir, r.url, {
              token: r.token,
              username: r.username,
              userId: r.userId,
              sessionId: r.sessionId,
              savedAt: Date.now(),
            });
            setSession({ url: r.url, token: r.token });
          }}
        />
      );
    }
    if (failure) return <Text>{failure}</Text>;
    if (!chat) return <Text>{`connecting to ${session.url}…`}</Text>;
    return (
      <App
        store={chat.store}
        controller={chat.controller}
        config={config}
        composerFile={drafts}
        configWarnings={warnings}
        files={chat.files}
        onQuit={() => chat.controller.client.close()}
      />
    );
  }

  const screen = alternateScreen(config.mouse);
  stylesOnTerminal();
  const instance = render(<Root />, { exitOnCtrlC: false });
  // Asked to stop (a closed terminal, kill): leave as Ctrl-C does, then go.
  const stop = (signal: NodeJS.Signals) => {
    drafts.flush();
    // A closed terminal (SIGHUP) cannot be written to any more: nothing is drawn on the way out.
    try {
      instance.unmount();
      screen.leave();
    } catch {
      // EIO: the terminal is gone.
    }
    if (signal === 'SIGHUP') hangUp();
    process.exit(143);
  };
  // Writes to a terminal that was closed fail with EIO (or EPIPE): leave as a hang-up does.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EIO' || err.code === 'EPIPE') {
      drafts.flush();
      hangUp();
    }
    throw err;
  });
  process.once('SIGTERM', stop);
  process.once('SIGHUP', stop);
  try {
    await instance.waitUntilExit();
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGHUP', stop);
    drafts.flush();
    screen.leave();
  }
  // Quitting before the server ever answered is not a success.
  if (!everConnected && lastError !== null) {
    process.stderr.write(`natter: never reached ${g.server}: ${lastError}\n`);
    process.exitCode = 1;
  }
}

/**
 * Keeps inverse and bold (the composer's cursor, the selected line) on any
 * terminal that can show them. Terminal-style detection turns every style off
 * when it sees `CI` in the environment, as if output went to a log; the app
 * always draws on a terminal, so that would leave the cursor invisible.
 * Colour itself follows `NO_COLOR` and the theme (config.ts), not this.
 */
function stylesOnTerminal(): void {
  if (process.stdout.isTTY && process.env.TERM !== 'dumb' && chalk.level === 0) chalk.level = 1;
}

/**
 * Ends the process as a hang-up does (status 129 to the shell), without
 * Node's exit path: that restores the terminal's settings, and on a terminal
 * that is gone Node 20 aborts with an assertion instead.
 */
function hangUp(): never {
  process.removeAllListeners('SIGHUP');
  process.kill(process.pid, 'SIGHUP');
  // The signal is delivered at once; this is never reached.
  process.exit(129);
}

/**
 * Draws in the terminal's alternate screen, as full-screen terminal programs
 * do: what was on the screen and in the scrollback before natter started is
 * back, untouched, when it exits, whether by Ctrl-C, a signal or a crash.
 */
function alternateScreen(mouse: boolean): { leave(): void } {
  const out = process.stdout;
  if (!out.isTTY) return { leave: () => {} };
  let inside = true;
  const leave = () => {
    if (!inside) return;
    inside = false;
    process.off('exit', leave);
    // Synchronous: this also runs from the 'exit' event, after a crash.
    try {
      writeSync(out.fd, `${PASTE_OFF}${mouse ? MOUSE_OFF : ''}\u001b[?25h\u001b[?1049l`);
    } catch {
      // The terminal was closed: there is no screen to give back.
    }
  };
  // With the mouse on, the terminal reports the wheel and clicks (its own text selection then needs Shift).
  // Pastes come marked, so a pasted line break is never Enter (paste.ts).
  writeSync(out.fd, `\u001b[?1049h\u001b[H${mouse ? MOUSE_ON : ''}${PASTE_ON}`);
  process.on('exit', leave);
  return { leave };
}
