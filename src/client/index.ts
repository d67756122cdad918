export { NatterError } from '../protocol/index.js';
export { type ClientEvents, type ClientOptions, NatterClient } from './client.js';
