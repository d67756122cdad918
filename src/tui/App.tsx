import { Box, useApp, useStdout } from 'ink';
import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { COMMANDS } from './commands.js';
import { Composer, composerRows } from './components/Composer.js';
import { ConfirmScreen } from './components/ConfirmScreen.js';
import { Header } from './components/Header.js';
import { HelpOverlay } from './components/HelpOverlay.js';
import { MemberList } from './components/MemberList.js';
import { MessageList } from './components/MessageList.js';
import { ModerationOverlay } from './components/ModerationOverlay.js';
import { NoticeLine, noticeHeight as noticeHeightOf } from './components/NoticeLine.js';
import { QuickSwitcher } from './components/QuickSwitcher.js';
import { SearchOverlay } from './components/SearchOverlay.js';
import { Sidebar } from './components/Sidebar.js';
import { StatusLine } from './components/StatusLine.js';
import { Welcome } from './components/Welcome.js';
import type { ComposerFile } from './composer-file.js';
import { type Config, previewRows as previewRowsOf } from './config.js';
import type { Controller } from './controller.js';
import type { Files } from './files.js';
import { ChatIntents, MEMBERS_MIN_COLUMNS, switcherMatches } from './intents.js';
import { keyHelp } from './keys.js';
import { moderationItems, reviewScopes, selectedIndex, waitingBadge } from './moderation.js';
import { Notifier } from './notify.js';
import { sidebarOrder, typingIn } from './reducer.js';
import type { Store } from './store.js';
import { ThemeContext } from './theme.js';
import { useKeys } from './use-keys.js';
import { conversationColors } from './view/colors.js';
import { shownNames } from './view/shown-names.js';
import { clockFor, transferText } from './view/status-text.js';

const noSubscription = () => () => {};
const noVersion = () => 0;

/**
 * The size the app draws in, following resizes: the terminal's columns, and
 * one row less than its height. A frame as tall as the terminal makes Ink
 * clear the whole screen on every render; one row shorter, it redraws only
 * what changed and writes nothing when nothing did.
 */
function useSize(): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = () => ({ columns: stdout.columns || 80, rows: Math.max(4, (stdout.rows || 24) - 1) });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  });
  return size;
}

export type AppProps = {
  store: Store;
  controller: Controller;
  config: Config;
  onQuit: () => void;
  /** The drafts and sent texts of the last run, and where to keep them (none: not kept). */
  composerFile?: ComposerFile;
  /** What was wrong with config.json (the help overlay lists them). */
  configWarnings?: readonly string[];
  /** Uploads, downloads and image previews (none: previews are placeholders as tall as the pictures, and file commands say they cannot). */
  files?: Files;
};

/**
 * The chat screen: sidebar, messages, composer, status line, and the
 * overlays. It lays out what the store and the intents hold; what keys do is
 * {@link ChatIntents}'.
 */
export function App({ store, controller, config, onQuit, composerFile, configWarnings, files }: AppProps) {
  const state = useSyncExternalStore(store.subscribe, store.get);
  const pictures = files?.pictures;
  // A preview that arrives redraws the list (in the rows kept for it: nothing moves).
  useSyncExternalStore(pictures?.subscribe ?? noSubscription, pictures?.version ?? noVersion);
  const previewRows = previewRowsOf(config);
  const { exit } = useApp();
  const { columns, rows } = useSize();
  const { stdout } = useStdout();
  const [intents] = useState(
    () =>
      new ChatIntents({
        store,
        controller,
        config,
        composerFile,
        ...(files ? { files } : {}),
        write: (data) => stdout.write(data),
        onQuit: () => {
          onQuit();
          exit();
        },
      }),
  );
  const composer = useSyncExternalStore(intents.subscribe, intents.composer);
  const text = composer.editor.text;
  const [now, setNow] = useState(Date.now());
  useKeys(intents, store, config.keys);

  // A clock for typing expiry (the reducer's tick) and "reconnecting in Ns". The screen is redrawn
  // for it only when something on it shows the time: idle, the app does no work at all.
  useEffect(() => {
    const timer = setInterval(() => {
      const t = Date.now();
      store.dispatch({ type: 'tick', now: t });
      setNow((shown) => clockFor(shown, t, store.get().connection));
    }, 1000);
    return () => clearInterval(timer);
  }, [store]);

  // The composer follows the open conversation, with each conversation's draft;
  // a conversation opened with unread messages shows from its `── new ──` line.
  useEffect(() => {
    intents.followActive();
    intents.placeAtNew();
  });

  // Open the first conversation once lists arrive.
  useEffect(() => {
    if (state.active === null) {
      const first = sidebarOrder(state)[0];
      if (first) void controller.open(first);
    }
  }, [state, controller]);

  // Mentions, highlight words, DMs and invitations outside the open conversation: bell, desktop, command.
  useEffect(() => {
    store.dispatch({ type: 'highlights', words: config.notifications.highlights });
    const notifier = new Notifier(store.get(), {
      config: config.notifications,
      write: (data) => stdout.write(data),
      env: process.env,
      onProblem: (text) => store.dispatch({ type: 'notice', text, level: 'error' }),
    });
    return store.subscribe(() => notifier.update(store.get()));
  }, [store, config.notifications, stdout]);

  const active = state.active ? state.conversations[state.active] : undefined;
  const view = state.active ? state.views[state.active] : undefined;
  const sidebarWidth = Math.max(18, Math.min(30, Math.floor(columns * 0.22)));
  const membersWidth = state.showMembers && active?.kind !== 'dm' && columns >= MEMBERS_MIN_COLUMNS ? 24 : 0;
  const mainWidth = Math.max(20, columns - sidebarWidth - membersWidth - 2);
  const composerHeight = Math.min(
    5,
    composerRows(text, composer.editor.cursor, Math.max(2, mainWidth - 3)).rows.length,
  );
  // A notice's picture (`/whois`) shows where previews do: with colour, and a source of pictures.
  const noticePicture =
    state.notice?.picture !== undefined && pictures && previewRows > 0
      ? { url: state.notice.picture, source: pictures }
      : undefined;
  const noticeHeight = state.notice ? noticeHeightOf(state.notice.text, mainWidth - 1, noticePicture !== undefined) : 0;
  const listHeight = Math.max(3, rows - 1 /* header */ - composerHeight - 1 /* status */ - noticeHeight);
  const listWidth = mainWidth - 1;
  intents.layout = { columns, rows, sidebarWidth, listTop: 1, listWidth, listHeight };

  // The reducer counts a new message's rows (to keep a scrolled-up window still) at the list's width,
  // and places the window in its height when older messages come in under a PageUp.
  useEffect(() => {
    store.dispatch({
      type: 'layout',
      width: listWidth,
      timeFormat: config.timeFormat,
      height: listHeight,
      previewRows,
    });
  }, [store, listWidth, listHeight, config.timeFormat, previewRows]);
  // Widened enough for the member list: the notice that said it was too narrow is untrue now.
  useEffect(() => {
    if (columns >= MEMBERS_MIN_COLUMNS) store.dispatch({ type: 'settled', about: 'members-width' });
  }, [store, columns]);
  // Connected and member of nothing: say how to start, where messages would be.
  const welcome =
    !active &&
    state.me !== null &&
    state.connection.status === 'connected' &&
    Object.keys(state.conversations).length === 0 &&
    Object.keys(state.servers).length === 0;
  const selectedLine =
    state.selected && state.selected.conversationId === state.active
      ? view?.lines.find((l) => l.seq === state.selected?.seq)
      : undefined;
  const memberScope = active?.kind === 'channel' ? active.serverId : active?.id;
  const members = (memberScope && state.members[memberScope]) || [];
  const switcher = state.overlay?.kind === 'switcher' ? state.overlay : null;
  const filtered = useMemo(() => (switcher ? switcherMatches(state, switcher.query) : []), [switcher, state]);
  // Everyone of the conversation gets a name colour of their own (while the palette lasts).
  const colors = useMemo(
    () =>
      conversationColors(
        [
          ...members.map((m) => m.user.id),
          ...(view?.lines ?? []).flatMap((l) => (l.kind === 'info' ? [] : l.author.id)),
        ],
        state.me?.id ?? null,
      ),
    [members, view?.lines, state.me?.id],
  );

  const title = active
    ? active.kind === 'channel'
      ? `#${active.name}`
      : active.kind === 'group'
        ? `+${active.name}`
        : `@${active.name}`
    : 'natter';
  const names = shownNames(state);
  const serverName = active?.serverId ? names.get(active.serverId) : undefined;
  const onlineCount = members.length > 0 ? members.filter((m) => state.online[m.user.id]).length : null;

  return <ThemeContext.Provider value={config.theme}>{screen()}</ThemeContext.Provider>;

  function screen() {
    if (state.confirm && !state.confirm.hidden) {
      return (
        <Box width={columns} height={rows} flexDirection="column">
          <ConfirmScreen
            confirm={state.confirm}
            server={hostOf(state.connection.url)}
            now={Date.now()}
            width={Math.min(columns, 80)}
            color={config.color}
          />
        </Box>
      );
    }
    if (switcher) {
      return (
        <Box width={columns} height={rows} flexDirection="column">
          <QuickSwitcher
            query={switcher.query}
            cursor={switcher.cursor}
            items={filtered}
            selected={switcher.selected}
            width={Math.min(columns, 70)}
            height={Math.min(rows, 20)}
            color={config.color}
          />
        </Box>
      );
    }
    if (state.overlay?.kind === 'search') {
      return (
        <Box width={columns} height={rows} flexDirection="column">
          <SearchOverlay
            query={state.overlay.query}
            cursor={state.overlay.cursor}
            hits={state.overlay.hits}
            selected={state.overlay.selected}
            loading={state.overlay.loading}
            error={state.overlay.error}
            more={state.overlay.more}
            width={Math.min(columns, 110)}
            height={Math.min(rows, 30)}
            timeFormat={config.timeFormat}
            color={config.color}
            names={names}
          />
        </Box>
      );
    }
    if (state.overlay?.kind === 'moderation') {
      const items = moderationItems(state);
      return (
        <Box width={columns} height={rows} flexDirection="column">
          <ModerationOverlay
            items={items}
            selected={selectedIndex(items, state.overlay)}
            queues={reviewScopes(state).map((scope) => ({ scope, status: state.moderation.queues[scope] }))}
            names={names}
            notice={state.notice}
            noticeColors={config.color ? { info: config.theme.muted, error: config.theme.error } : undefined}
            width={Math.min(columns, 130)}
            height={Math.min(rows, 40)}
            timeFormat={config.timeFormat}
            color={config.color}
          />
        </Box>
      );
    }
    if (state.overlay?.kind === 'help') {
      return (
        <Box width={columns} height={rows} flexDirection="column">
          <HelpOverlay
            keys={keyHelp(config.keys)}
            problems={configWarnings}
            commands={COMMANDS.map((c) => ({
              name: c.name,
              // The usage line starts with the command itself.
              usage: c.usage.replace(/^\/\S+\s*/, ''),
              description: c.description,
            }))}
            width={Math.min(columns, 100)}
            height={rows}
            offset={state.overlay.offset}
            footer="↑↓ PageUp PageDown scroll · any other key closes this"
          />
        </Box>
      );
    }

    return (
      <Box width={columns} height={rows} flexDirection="row">
        <Box
          width={sidebarWidth}
          flexDirection="column"
          borderStyle="single"
          borderTop={false}
          borderBottom={false}
          borderLeft={false}
        >
          <Sidebar
            servers={state.serverOrder.flatMap((id) => (state.servers[id] ? [state.servers[id]] : []))}
            conversations={state.conversations}
            active={state.active}
            online={state.online}
            width={sidebarWidth - 1}
            height={rows}
            color={config.color}
          />
        </Box>
        <Box width={mainWidth} flexDirection="column" paddingLeft={1}>
          <Header
            title={
              active
                ? serverName !== undefined
                  ? `${active.name}  ${serverName}`
                  : (names.get(active.id) ?? active.name)
                : 'natter'
            }
            topic={active?.topic ?? null}
            onlineCount={onlineCount}
            kind={active?.kind ?? null}
            width={mainWidth - 1}
            color={config.color}
          />
          {welcome ? (
            <Welcome height={listHeight} />
          ) : (
            <MessageList
              lines={view?.lines ?? []}
              meId={state.me?.id ?? null}
              meUsername={state.me?.username ?? null}
              width={listWidth}
              height={listHeight}
              scrollBack={view?.scrollBack ?? 0}
              newBelow={view?.newBelow ?? 0}
              focus={view?.focus ?? null}
              selected={state.selected?.conversationId === state.active ? state.selected.seq : null}
              colors={colors}
              newFrom={view?.newFrom ?? null}
              hasMoreBefore={view?.hasMoreBefore ?? false}
              loading={view?.loading ?? false}
              timeFormat={config.timeFormat}
              now={now}
              color={config.color}
              media={{ previewRows, ...(pictures ? { pictures } : {}) }}
            />
          )}
          {state.notice ? (
            <NoticeLine
              text={state.notice.text}
              level={state.notice.level}
              width={mainWidth - 1}
              {...(noticePicture ? { picture: noticePicture } : {})}
              colors={config.color ? { info: config.theme.muted, error: config.theme.error } : undefined}
            />
          ) : null}
          <Composer
            value={text}
            cursor={composer.editor.cursor}
            placeholder={active ? `message ${title}  (F1 or /help for help)` : 'Ctrl-K to open a conversation'}
            focused
            width={mainWidth - 1}
            prefix="> "
            maxRows={5}
          />
          <StatusLine
            connection={state.connection}
            typing={state.active ? typingIn(state, state.active, now) : []}
            now={now}
            width={mainWidth - 1}
            color={config.color}
            waiting={waitingBadge(state)}
            transfer={transferText(Object.values(state.transfers))}
            hint={
              selectedLine
                ? selectedLine.attachments && selectedLine.attachments.length > 0
                  ? mainWidth >= 80
                    ? `#${selectedLine.seq} ${selectedLine.author.username} · o open · s save · e edit · d delete · r reply · Esc`
                    : `#${selectedLine.seq} ${selectedLine.author.username} · o/s/e/d/r · Esc`
                  : mainWidth >= 80
                    ? `#${selectedLine.seq} ${selectedLine.author.username} · e edit · d delete · r reply · c copy · ! report · Esc`
                    : `#${selectedLine.seq} ${selectedLine.author.username} · e/d/r/c · Esc`
                : state.connection.status === 'reconnecting'
                  ? 'Ctrl-R: now'
                  : undefined
            }
          />
        </Box>
        {membersWidth > 0 ? (
          <Box
            width={membersWidth}
            flexDirection="column"
            borderStyle="single"
            borderTop={false}
            borderBottom={false}
            borderRight={false}
          >
            <MemberList
              members={members}
              online={state.online}
              width={membersWidth - 1}
              height={rows}
              color={config.color}
            />
          </Box>
        ) : null}
      </Box>
    );
  }
}

/** The server's host as its address names it (`natter.example`), or the address itself when it does not parse. */
function hostOf(url: string): string {
  try {
    return new URL(url.split(',')[0] ?? url).host || url;
  } catch {
    return url;
  }
}
