import type { Hub } from '../hub.js';
import type { LocalTarget } from './bus.js';

/** The hub as the bus's target: its own methods, and closing all of a user's connections. */
export function hubTarget(hub: Hub): LocalTarget {
  return {
    publishEvent: (event) => hub.publishEvent(event),
    publish: (scopes, text, except) => hub.publish(scopes, text, except),
    subscribeUser: (userId, scope) => hub.subscribeUser(userId, scope),
    unsubscribeUser: (userId, scope) => hub.unsubscribeUser(userId, scope),
    dropScope: (scope) => hub.dropScope(scope),
    closeSessions: (ids, code, reason) => {
      hub.closeSessions(ids, code, reason);
    },
    closeUser: (userId, code, reason) => {
      // Closing makes the hub forget the connection (Connection.onGone), so copy the set first.
      for (const conn of [...hub.userConnections(userId)]) conn.close(code, reason);
    },
  };
}
