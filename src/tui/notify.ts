/**
 * Notifications: when a mention, a highlight word, a direct message or a
 * group invitation arrives outside the open conversation, or a message held
 * or a report made waits for my review (a moderator's, an operator's), the terminal bell
 * rings, a desktop notification goes through the terminal (OSC 9 or OSC 777)
 * and the command of the config runs, each as the config says.
 *
 * The command gets the details in its environment, never in its command
 * line, so nothing a sender writes can become shell syntax:
 * NATTER_REASON (mention, dm, invitation, review), NATTER_FROM, NATTER_WHERE,
 * NATTER_CONVERSATION, NATTER_TEXT, and NATTER_MORE (how many notifications
 * came while the previous command was still running and were folded into this
 * one), with NATTER_MORE_MENTIONS, NATTER_MORE_DMS, NATTER_MORE_REVIEWS and
 * NATTER_MORE_INVITATIONS counting them by kind. One command runs at a time; a
 * folded run describes the latest mention among what it folds (else the latest
 * direct message, else the latest thing to review, else the latest invitation).
 */
import { spawn } from 'node:child_process';
import type { Notifications } from './config.js';
import type { Alert, State } from './state.js';

export type NotifierOptions = {
  config: Notifications;
  /** Writes to the terminal (bell and desktop notifications). */
  write: (data: string) => void;
  /** The environment the command inherits (TMUX decides how desktop notifications are wrapped). */
  env: NodeJS.ProcessEnv;
  /** Says, once, that the command could not run or failed. */
  onProblem: (text: string) => void;
};

/** The most of a message a notification carries. */
const TEXT_MAX = 2000;
const TITLE_MAX = 100;

/** Text for the environment or a notification: no control characters but line breaks, at most `max` characters. */
function clean(text: string, max: number, multiline: boolean): string {
  const flat = text.replace(
    multiline ? /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g : /[\u0000-\u001f\u007f-\u009f]/g,
    ' ',
  );
  const chars = [...flat];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : flat;
}

/** The desktop notification's escape sequence, passed through tmux when inside it. */
export function desktopSequence(kind: 'osc9' | 'osc777', alert: Alert, inTmux: boolean): string {
  const title = clean(
    alert.reason === 'dm' ? `${alert.from} (direct message)` : `${alert.from} in ${alert.where}`,
    TITLE_MAX,
    false,
  );
  const body = clean(alert.text, 200, false);
  // OSC 777 separates its fields with ";".
  const seq =
    kind === 'osc9'
      ? `\u001b]9;${title}: ${body}\u0007`
      : `\u001b]777;notify;${title.replace(/;/g, ',')};${body.replace(/;/g, ',')}\u0007`;
  // tmux passes a sequence on to the terminal when wrapped in its DCS, with every ESC doubled.
  return inTmux ? `\u001bPtmux;${seq.replace(/\u001b/g, '\u001b\u001b')}\u001b\\` : seq;
}

type Reason = Alert['reason'];
/** Which alert a folded run describes: a mention before a direct message before a review before an invitation. */
const RANK: Record<Reason, number> = { mention: 3, dm: 2, review: 1, invitation: 0 };

/** Notifications folded into one run of the command: the one it describes, and how many of each kind in all. */
type Folded = { alert: Alert; counts: Record<Reason, number> };

function fold(into: Folded | null, alert: Alert): Folded {
  if (!into) return { alert, counts: { mention: 0, dm: 0, review: 0, invitation: 0, [alert.reason]: 1 } };
  return {
    alert: RANK[alert.reason] >= RANK[into.alert.reason] ? alert : into.alert,
    counts: { ...into.counts, [alert.reason]: into.counts[alert.reason] + 1 },
  };
}

export class Notifier {
  private seen: number;
  private running = false;
  private pending: Folded | null = null;
  private complained = false;

  constructor(
    state: State,
    private readonly options: NotifierOptions,
  ) {
    this.seen = state.bell;
  }

  /** Call with every new state; acts once per new alert. */
  update(state: State): void {
    if (state.bell <= this.seen) return;
    this.seen = state.bell;
    const alert = state.alert;
    if (!alert) return;
    const c = this.options.config;
    const wanted =
      alert.reason === 'mention' ? c.onMention : alert.reason === 'review' ? c.onReview : c.onDirectMessage;
    if (!wanted) return;
    if (c.bell) this.options.write('\u0007');
    if (c.desktop !== 'off') this.options.write(desktopSequence(c.desktop, alert, Boolean(this.options.env.TMUX)));
    if (c.command !== null) this.run(c.command, alert);
  }

  /** Runs the command for `alert`, or folds it into the next run while one is under way. */
  private run(command: string, alert: Alert): void {
    if (this.running) {
      this.pending = fold(this.pending, alert);
      return;
    }
    this.start(command, fold(null, alert));
  }

  private start(command: string, what: Folded): void {
    this.running = true;
    const { alert, counts } = what;
    const besides = (reason: Reason) => counts[reason] - (reason === alert.reason ? 1 : 0);
    const env: NodeJS.ProcessEnv = {
      ...this.options.env,
      NATTER_REASON: alert.reason,
      NATTER_FROM: clean(alert.from, TITLE_MAX, false),
      NATTER_WHERE: clean(alert.where, TITLE_MAX, false),
      NATTER_CONVERSATION: alert.conversationId ?? '',
      NATTER_TEXT: clean(alert.text, TEXT_MAX, true),
      NATTER_MORE: String(besides('mention') + besides('dm') + besides('review') + besides('invitation')),
      NATTER_MORE_MENTIONS: String(besides('mention')),
      NATTER_MORE_DMS: String(besides('dm')),
      NATTER_MORE_INVITATIONS: String(besides('invitation')),
      NATTER_MORE_REVIEWS: String(besides('review')),
    };
    const done = () => {
      this.running = false;
      const next = this.pending;
      this.pending = null;
      if (next) this.start(command, next);
    };
    try {
      const child = spawn('/bin/sh', ['-c', command], { env, stdio: 'ignore', detached: true });
      child.once('error', (err) => {
        this.problem(`the notification command could not run: ${err.message}`);
        done();
      });
      child.once('exit', (code, signal) => {
        if (code !== 0) this.problem(`the notification command failed (${signal ?? `exit status ${code}`})`);
        done();
      });
      child.unref();
    } catch (err) {
      this.problem(`the notification command could not run: ${(err as Error).message}`);
      done();
    }
  }

  private problem(text: string): void {
    if (this.complained) return;
    this.complained = true;
    this.options.onProblem(text);
  }
}
