// Entry of a shard worker thread (engine/shard/host.ts): Sluice runs its TypeScript
// through tsx, and a worker thread does not inherit the loader the main thread registered, so the
// worker registers tsx itself before importing the real entry.
// From the compiled build (dist/, the entry is .js) there is nothing to compile: tsx is not loaded.
import { workerData } from 'node:worker_threads'

if (workerData.entry.endsWith('.ts')) (await import('tsx/esm/api')).register()
await import(workerData.entry)
