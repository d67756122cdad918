/**
 * Runs the natter server for a benchmark: `startServer` with the settings in
 * the JSON argument (for limits that `natter serve` does not expose as flags),
 * logging its ports like `natter serve` does. Stops on SIGTERM.
 *
 *   node --import tsx bench/server-process.ts '{"dataDir":"/tmp/x","port":0,"limits":{...}}'
 */
import { startServer } from '../src/server/server.js';

const config = JSON.parse(process.argv[2] ?? '{}');
const server = await startServer(config);
process.on('SIGTERM', () => {
  server.stop().then(() => process.exit(0));
});
