export * from '../protocol/index.js';
export { type ClientEvents, type ClientOptions, NatterClient } from './client.js';
export {
  type DownloadOptions,
  downloadFile,
  FileError,
  fetchMedia,
  formatBytes,
  formatDuration,
  httpBase,
  localFileName,
  type MediaClient,
  mediaHref,
  streamFile,
  type UploadOptions,
  uploadFile,
} from './media.js';
export {
  type ConnectionState,
  Natter,
  type NatterEvents,
  type NatterOptions,
  newNonce,
  type PendingSend,
} from './natter.js';
export { allPages, type ListPage, patiently } from './pages.js';
export { parseServerList, ServersUnreachableError } from './servers.js';
export { CertificateError, type TlsOptions } from './transport.js';
