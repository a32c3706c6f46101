/**
 * Masks credentials wherever connector options are shown: catalog tables, SHOW CREATE, HTTP
 * answers, errors and log lines. The password of a `scheme://user:password@host` URL, the value of
 * an option whose name says it is a credential (`password`, `sasl.password`, `token`, ...), a
 * role's `PASSWORD '...'` and a `CREATE SECRET ... AS '...'` value all become `***`. Options
 * written `key = SECRET name` need nothing: they only ever hold the secret's name.
 */

const MASK = '***'

/** Option names whose values are credentials. */
const CREDENTIAL_KEY = /(password|passwd|secret|token|credentials?|api[._-]?key|access[._-]?key|private[._-]?key)$/i

const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s'"]*:)[^@\s'"/]*@/gi
const CREDENTIAL_OPTION =
  /(\b[\w.]*(?:password|passwd|secret|token|credentials?|api[._-]?key|access[._-]?key|private[._-]?key)['"]?\s*=\s*)'(?:[^']|'')*'/gi
const ROLE_PASSWORD = /(\bpassword\s+)'(?:[^']|'')*'/gi
const SECRET_VALUE = /(\bsecret\s+(?:"(?:[^"]|"")*"|[\w$]+)\s+as\s+)'(?:[^']|'')*'/gi

/** Any text (an error message, a URL): the password part of URLs masked. */
export function redactText(text: string): string {
  return text.replace(URL_PASSWORD, `$1${MASK}@`)
}

/** A statement's text as shown to users and logs. */
export function redactSql(sql: string): string {
  return redactText(sql)
    .replace(CREDENTIAL_OPTION, `$1'${MASK}'`)
    .replace(ROLE_PASSWORD, `$1'${MASK}'`)
    .replace(SECRET_VALUE, `$1'${MASK}'`)
}

/** One connector option's value as shown. */
export function redactOption(key: string, value: string): string {
  return CREDENTIAL_KEY.test(key) ? MASK : redactText(value)
}
