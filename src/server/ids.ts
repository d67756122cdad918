import { nanoid } from 'nanoid';

/**
 * A new id for a user, session, server, conversation or message: 21 URL-safe
 * characters (126 random bits). Ids are typed on command lines, where one
 * starting with `-` would be read as an option, so none does.
 */
export function newId(): string {
  for (;;) {
    const id = nanoid();
    if (id.charCodeAt(0) !== 0x2d) return id;
  }
}
