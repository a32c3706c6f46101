/**
 * `sluice start --config sluice.json`: the start options in a JSON file. Every key is the name of
 * a `sluice start` flag without its dashes (`"pg-port": 5566`, `"http-token": ["a", "b"]`, and
 * `"demo": false` for `--no-demo`), read from the command's own option list so that a flag added
 * later has its key at once. Values go through the flag's own parser and choices; flags given on
 * the command line win over the file; a key that names no flag is an error, so a typo does not
 * silently leave a setting at its default. JSON rather than TOML: no parser to depend on, and
 * every value a flag takes (strings, numbers, booleans, lists) has a JSON form.
 */
import type { Command, Option } from 'commander'
import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'

/** The key of `option` in a config file: `--pg-port` → `pg-port`, `--no-demo` → `demo`. */
export function configKey(option: Option): string | undefined {
  const long = option.long
  if (long === undefined) return undefined
  const name = long.replace(/^--/, '')
  return option.negate ? name.replace(/^no-/, '') : name
}

/** The error for a bad config file: names the file and, where there is one, the key. */
export class ConfigFileError extends Error {}

/**
 * Reads `file` and sets each of its keys on `command` as if the flag had been given, unless the
 * flag was given on the command line. Relative paths in the file (values of `<file>` and `<dir>`
 * flags) are taken from the file's folder, so a config file works from any current directory.
 */
export function applyConfigFile(command: Command, file: string, excluded: readonly string[] = ['config']): void {
  const config = readConfig(file)
  const byKey = new Map<string, Option>()
  for (const option of command.options) {
    const key = configKey(option)
    if (key !== undefined && !excluded.includes(key) && key !== 'help') byKey.set(key, option)
  }
  for (const [key, raw] of Object.entries(config)) {
    const option = byKey.get(key)
    if (option === undefined) {
      const known = [...byKey.keys()].join(', ')
      throw new ConfigFileError(`${file}: unknown key "${key}" (the keys are: ${known})`)
    }
    const attribute = option.attributeName()
    // The command line overrides the file.
    if (command.getOptionValueSource(attribute) === 'cli') continue
    command.setOptionValueWithSource(attribute, valueOf(option, key, raw, file), 'config')
  }
}

function readConfig(file: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new ConfigFileError(`cannot read the config file ${file}: ${(e as Error).message}`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    throw new ConfigFileError(`${file} is not valid JSON: ${(e as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ConfigFileError(`${file}: a config file is one JSON object, e.g. {"pg-port": 4566}`)
  return parsed as Record<string, unknown>
}

/** The value `raw` sets for `option`, checked as the flag checks its argument. */
function valueOf(option: Option, key: string, raw: unknown, file: string): unknown {
  const bad = (why: string): ConfigFileError => new ConfigFileError(`${file}: "${key}" ${why}`)
  // A flag without an argument: `--tls-required`, or a negated one such as `--no-demo`.
  if (!option.required && !option.optional) {
    if (typeof raw !== 'boolean') throw bad('is true or false')
    // `"demo": false` is `--no-demo`; `"tls-required": true` is `--tls-required`.
    return raw
  }
  const items: readonly unknown[] = Array.isArray(raw) ? raw : [raw]
  if (items.length === 0) throw bad('needs at least one value')
  let value: unknown = undefined
  for (const item of items) {
    if (typeof item !== 'string' && typeof item !== 'number') throw bad('is a string or a number')
    let text = String(item)
    if (option.argChoices !== undefined && !option.argChoices.includes(text))
      throw bad(`is one of ${option.argChoices.join(', ')}, not ${JSON.stringify(item)}`)
    if (/<(file|dir)>/.test(option.flags) && !isAbsolute(text)) text = resolve(dirname(file), text)
    try {
      value = option.parseArg === undefined ? text : option.parseArg(text, value)
    } catch (e) {
      throw bad(`is invalid: ${(e as Error).message}`)
    }
  }
  // Only a flag whose parser collects its values (`--http-token`, repeatable) takes a list.
  if (Array.isArray(raw) && !Array.isArray(value)) throw bad('takes one value, not a list')
  return value
}
