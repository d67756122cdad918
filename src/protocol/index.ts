export * from './envelope.js';
export * from './errors.js';
export * from './events.js';
export * from './operations.js';
export * from './schemas.js';
export * from './search.js';
export * from './text.js';
export * from './version.js';
