/**
 * The console's browser assets: console/main.ts (and uPlot, imported from node_modules) bundled
 * by esbuild into one script and one stylesheet, in memory, once per process on first request.
 * Everything comes from the project's own files: the page needs no CDN and no internet.
 */
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

export interface ConsoleAssets {
  readonly js: string
  readonly css: string
}

const ENTRY = fileURLToPath(new URL('../../../console/main.ts', import.meta.url))

let bundled: Promise<ConsoleAssets> | undefined

/** The bundle; built on the first call, then shared (a failed build is retried on the next call). */
export function consoleAssets(): Promise<ConsoleAssets> {
  bundled ??= bundle().catch((e: unknown) => {
    bundled = undefined
    throw e
  })
  return bundled
}

async function bundle(): Promise<ConsoleAssets> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    // esbuild names outputs after the entry; the directory is only a label here (write: false).
    outdir: '/console',
    format: 'esm',
    target: ['chrome110', 'firefox115'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'silent',
  })
  const text = (ext: string): string => result.outputFiles.find((f) => f.path.endsWith(ext))?.text ?? ''
  return { js: text('.js'), css: text('.css') }
}

/** The one HTML page every console route answers with; the script routes by path. */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sluice console</title>
<link rel="stylesheet" href="/console/app.css">
<script type="module" src="/console/app.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/">Sluice</a>
  <nav aria-label="Console pages">
    <a href="/" data-nav="overview">Overview</a>
    <a href="/sql" data-nav="sql">SQL</a>
    <a href="/dead-letters" data-nav="dead-letters">Dead letters</a>
  </nav>
  <span id="conn" class="conn" role="status" aria-live="polite"></span>
  <span id="who" class="who"></span>
</header>
<main id="main" tabindex="-1"><p class="muted">Loading…</p></main>
</body>
</html>
`
