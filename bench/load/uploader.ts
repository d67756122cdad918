/**
 * The uploads side load of `w3-uploads`, in a process of its own (forked by
 * the generator, JSON over IPC): its byte-heavy work (1 MiB bodies over
 * HTTP) must not delay the generator's event loop, which times every delivery. Each of
 * `workerData.uploads` loops uploads a file of `uploadBytes` as its client,
 * then the next. Told `measure`, it starts counting; told `stop`, it answers
 * with what it counted and ends.
 */
import { randomBytes } from 'node:crypto';
import { Histogram } from './measure.js';
import { type NatterFixture, natterAdapter } from './natter.js';

type Data = { fixture: NatterFixture & { urls: string[] }; uploads: number; uploadBytes: number };
const data = JSON.parse(process.argv[2] ?? '{}') as Data;
const adapter = natterAdapter(data.fixture);
let measuring = false;
let stop = false;
let uploads = 0;
let errors = 0;
let lastError = '';
const hist = new Histogram();

for (let k = 0; k < data.uploads; k++) void uploadLoop(k);

async function uploadLoop(k: number): Promise<void> {
  // Every upload differs (a counter in its first bytes): each is hashed and stored, none deduplicated.
  const bytes = randomBytes(data.uploadBytes);
  let n = 0;
  while (!stop) {
    bytes.writeUInt32BE(n++, 0);
    const s = performance.now();
    try {
      await adapter.upload?.(k, bytes);
      if (measuring) {
        uploads++;
        hist.add(performance.now() - s);
      }
    } catch (err) {
      errors++;
      lastError = String(err);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

process.on('message', (msg: 'measure' | 'stop') => {
  if (msg === 'measure') {
    measuring = true;
    return;
  }
  measuring = false;
  stop = true;
  process.send?.({ uploads, errors, lastError, latencyMs: hist.summary() }, () => process.exit(0));
});
