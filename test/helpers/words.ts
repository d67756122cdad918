/**
 * What an error message shown to a person must not hold: an operation name
 * (`servers.transfer`) or a request field's path (`params.password`)...
 */
export const PROTOCOL_INTERNALS = /\b[a-z]+\.[a-z][A-Za-z]+\b|params\./;

/** ...nor the schema library's own wording, which nobody chose for people. */
export const SCHEMA_WORDING =
  /Too (big|small)|Invalid (input|option|string)|Unrecognized key|expected [a-z]+, received|<=|>=/;
