/** The wire protocol version. Bumped only for incompatible changes; within a version fields are only added. */
export const PROTOCOL_VERSION = 1;

/** Protocol versions this build can speak. */
export const SUPPORTED_PROTOCOLS: readonly number[] = [1];
