// Whether dist/ (the compiled build, scripts/build.mjs) is current: its stamp is newer than every
// source file the build compiles. bin/sluice.js runs dist/ only then, so a developer editing .ts
// files never runs stale code; a few ms of stat calls per start.
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const SOURCE_DIRS = ['engine', 'connectors', 'server']

/** @param {string} root the project's root directory */
export function distIsCurrent(root) {
  let built
  try {
    built = statSync(join(root, 'dist', '.build-stamp')).mtimeMs
  } catch {
    return false
  }
  const newerThanBuild = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) {
        if (newerThanBuild(path)) return true
      } else if (/\.(ts|mjs)$/.test(entry.name) && !entry.name.endsWith('.test.ts') && statSync(path).mtimeMs > built)
        return true
    }
    return false
  }
  try {
    return !SOURCE_DIRS.some((d) => newerThanBuild(join(root, d)))
  } catch {
    return false
  }
}
