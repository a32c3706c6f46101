// Entry of the Kafka fetcher's worker thread (connectors/kafka/fetch-thread.ts): Sluice runs its
// TypeScript through tsx, and a worker thread does not inherit the loader the main thread
// registered, so the worker registers tsx itself before importing the real entry.
import { register } from 'tsx/esm/api'
import { workerData } from 'node:worker_threads'

register()
await import(workerData.entry)
