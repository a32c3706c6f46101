/**
 * The console's paths in the OpenAPI document (server/http/openapi.ts spreads them in): the
 * page, its assets and the three JSON endpoints the page reads besides the public API.
 */
const pageGet = (summary: string, parameters: readonly Record<string, unknown>[] = []): Record<string, unknown> => ({
  summary,
  description: 'The console page (one HTML document; its script draws the page for this path). Served without a token.',
  parameters,
  responses: { '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } },
})
const page = (summary: string): Record<string, unknown> => ({ get: pageGet(summary) })
const nameParameter = { name: 'name', in: 'path', required: true, schema: { type: 'string' } }
const json = (
  summary: string,
  description: string,
  parameters: readonly Record<string, unknown>[] = [],
): Record<string, unknown> => ({
  get: {
    summary,
    description,
    parameters,
    responses: {
      '200': { description: 'JSON', content: { 'application/json': { schema: { type: 'object' } } } },
      '400': {
        description: 'A bad parameter (22023)',
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      },
      '404': {
        description: 'No such relation (42P01)',
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      },
    },
  },
})

export const CONSOLE_PATHS = {
  '/': page('Console: overview of every source, table, view and sink'),
  '/sql': page('Console: SQL'),
  '/dead-letters': page('Console: dead letters'),
  '/views/{name}': { get: pageGet('Console: live rows of a view', [nameParameter]) },
  '/graph/{name}': { get: pageGet('Console: dataflow graph of a view', [nameParameter]) },
  '/console/app.js': {
    get: {
      summary: 'Console script (bundled)',
      responses: {
        '200': { description: 'JavaScript', content: { 'text/javascript': { schema: { type: 'string' } } } },
      },
    },
  },
  '/console/app.css': {
    get: {
      summary: 'Console stylesheet (bundled)',
      responses: { '200': { description: 'CSS', content: { 'text/css': { schema: { type: 'string' } } } } },
    },
  },
  '/console/api/me': json(
    'Who the request acts as',
    'The user the credentials belong to and whether it is read-only (the console shows it; statements that change anything are refused for a read-only user).',
  ),
  '/console/api/overview': json(
    'Console overview',
    'Every source, table, view and sink with its state (running, warning, failing, halted), rates, lag per partition, watermark delay; checkpoint health; dead letters by object and reason.',
  ),
  '/console/api/history': json(
    'Metrics history',
    'The in-process history of the last ten minutes, one sample a second: series by name (events:<source>, lag:<source>, watermark_delay:<relation>, checkpoint_ms, commit_ms:<sink>, changes:<view or sink>, view_rows:<view>, dead_letters:<object>).',
    [
      {
        name: 'prefix',
        in: 'query',
        required: false,
        schema: { type: 'string' },
        description: 'Comma-separated series name prefixes',
      },
      {
        name: 'seconds',
        in: 'query',
        required: false,
        schema: { type: 'integer' },
        description: 'Only the last this many seconds',
      },
    ],
  ),
  '/console/api/graph/{name}': json(
    'Dataflow graph of a view or sink',
    'Its operators (root first) with inputs, rows in and out (totals and per second) and state entries; the relations it reads and the views and sinks that read it.',
    [nameParameter],
  ),
}
