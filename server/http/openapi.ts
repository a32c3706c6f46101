/**
 * The OpenAPI 3.1 description of the HTTP API, served at `GET /v1/openapi.json`. Written by hand;
 * a test checks that every path here is a route of the app and the other way round.
 */
import { CONSOLE_PATHS } from './console/openapi.ts'

const problemResponse = (description: string): Record<string, unknown> => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
})

/** The document. `servers` is left out: clients use the address they reached it on. */
export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'Sluice HTTP API',
    version: '0.1.0',
    description:
      'Run SQL against Sluice over HTTP. Errors are RFC 9457 problem documents whose `code` is the PostgreSQL SQLSTATE. ' +
      'When the server is started with bearer tokens, every route but /healthz needs `Authorization: Bearer <token>`.',
  },
  security: [{}, { bearer: [] }],
  paths: {
    '/v1/sql': {
      post: {
        summary: 'Run one or more SQL statements',
        description:
          'Runs the statements of `sql` in a fresh session and returns one result per statement. With `params`, `sql` must be ' +
          'a single statement using $1..$n. Values are JSON: bool and int2/int4/float as JSON booleans and numbers (NaN and ' +
          'Infinity as strings), int8 and numeric as numbers when exactly representable (safe integers; decimals whose shortest ' +
          'double digits are the value) else strings, jsonb as the JSON value, arrays as JSON arrays, everything else ' +
          '(timestamps, dates, intervals, bytea, text) as PostgreSQL text output.',
        operationId: 'runSql',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/SqlRequest' } } },
        },
        responses: {
          '200': {
            description: 'One result per statement',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/SqlResponse' } } },
          },
          '400': problemResponse(
            'A user error (bad SQL, unknown table, bad parameter) or a malformed request (code 08P01)',
          ),
          '401': problemResponse('Missing or wrong bearer token (code 28000)'),
          '413': problemResponse('The body is larger than the limit (1 MiB by default; code 08P01)'),
          '500': problemResponse('An internal error: a bug, please report it (code XX000)'),
          '502': problemResponse('An external system (Kafka, a sink) failed'),
          '503': problemResponse('An external system is unavailable, or the server is shutting down; retry later'),
        },
      },
    },
    '/v1/views/{name}': {
      get: {
        summary: 'Read a materialized view or table',
        description:
          'The current rows of a materialized view, a table or a `sluice_catalog.*` system table. The format comes from ' +
          '`format` when given, else from Accept (JSON by default). JSON: `{columns, rows}` with values as in /v1/sql. CSV: a ' +
          'header line, PostgreSQL text values, NULL as an empty field, "" as the empty string. Arrow IPC stream: ints, floats, ' +
          'bool, timestamps (µs), dates and bytea as Arrow types, other types as Utf8 in PostgreSQL text form.',
        operationId: 'readView',
        parameters: [
          {
            name: 'name',
            in: 'path',
            required: true,
            schema: { type: 'string' },
            examples: { view: { value: 'bids_per_channel' } },
          },
          { name: 'format', in: 'query', schema: { type: 'string', enum: ['json', 'csv', 'arrow'] } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 0 } },
        ],
        responses: {
          '200': {
            description: 'The rows',
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/ViewRows' } },
              'text/csv': { schema: { type: 'string' } },
              'application/vnd.apache.arrow.stream': { schema: { type: 'string', format: 'binary' } },
            },
          },
          '400': problemResponse('Bad parameters, or the relation cannot be read (a source: 0A000)'),
          '401': problemResponse('Missing or wrong bearer token (code 28000)'),
          '404': problemResponse('No such relation (code 42P01)'),
          '406': problemResponse('Accept names no format Sluice can produce (code 22023)'),
        },
      },
    },
    '/v1/ingest/{table}': {
      post: {
        summary: 'Append JSON lines to an APPEND ONLY table',
        description:
          'One JSON object per line; fields map to columns by name (missing → NULL; timestamps as text or epoch ms). The whole ' +
          'body is one batch: all lines are applied, or none. 200 means the rows are durable and have reached every view.',
        operationId: 'ingest',
        parameters: [{ name: 'table', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: {
          required: true,
          content: {
            'application/x-ndjson': {
              schema: { type: 'string' },
              examples: { rows: { value: '{"k": 1, "v": "a"}\n{"k": 2, "v": "b"}\n' } },
            },
          },
        },
        responses: {
          '200': {
            description: 'Rows appended',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/IngestResult' } } },
          },
          '400': problemResponse(
            'A line that is not a JSON object or does not fit the columns (22P02, with `line`); nothing applied',
          ),
          '401': problemResponse('Missing or wrong bearer token (code 28000)'),
          '404': problemResponse('No such table (code 42P01)'),
          '409': problemResponse('Not an APPEND ONLY table (0A000), or not a table at all (42809)'),
          '413': problemResponse('The body is larger than the limit (code 08P01)'),
          '429': problemResponse(
            'Sluice is behind: too many ingest requests in flight (53000); retry after Retry-After',
          ),
          '503': problemResponse('Shutting down; retry later'),
        },
      },
    },
    '/v1/subscribe/{view}': {
      get: {
        summary: 'SUBSCRIBE to a view: Server-Sent Events, or WebSocket on upgrade',
        description:
          'A snapshot of the current rows, then every change as it happens, each as `{"position", "op", "row"}`. SSE: changes ' +
          'are unnamed events whose id is the position; snapshot rows have no id; `event: snapshot` (id = its position) ends the ' +
          'snapshot; `event: reset` precedes a fresh snapshot when a resume position is no longer kept; `event: problem` carries ' +
          'the error that ended the stream (54000 when the client fell behind). Resume with Last-Event-ID or `from`. The same ' +
          'URL upgraded to a WebSocket sends the same documents as text messages (`{"type": "snapshot" | "reset", "position"}` ' +
          'for the markers, `{"type": "problem", "problem": {...}}` then close code 4000 for an error).',
        operationId: 'subscribe',
        parameters: [
          { name: 'view', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'snapshot', in: 'query', schema: { type: 'boolean', default: true } },
          {
            name: 'from',
            in: 'query',
            description: 'Resume after this position (no snapshot)',
            schema: { type: 'integer' },
          },
          {
            name: 'queue_max',
            in: 'query',
            description: 'Changes that may wait for this client before it is cut off',
            schema: { type: 'integer', minimum: 1 },
          },
          { name: 'Last-Event-ID', in: 'header', description: 'SSE resume position', schema: { type: 'string' } },
        ],
        responses: {
          '101': { description: 'Switching to the WebSocket protocol' },
          '200': { description: 'The event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          '400': problemResponse('Bad parameters (code 22023)'),
          '401': problemResponse('Missing or wrong bearer token (code 28000)'),
          '404': problemResponse('No such view (code 42P01)'),
        },
      },
    },
    '/healthz': {
      get: {
        summary: 'Liveness: the process answers',
        operationId: 'health',
        security: [],
        responses: {
          '200': {
            description: 'Alive',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Status' } } },
          },
        },
      },
    },
    '/readyz': {
      get: {
        summary: 'Readiness: the engine is open and serving',
        operationId: 'ready',
        responses: {
          '200': {
            description: 'Ready',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Status' } } },
          },
          '503': problemResponse('Starting or shutting down (code 57P01)'),
        },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics (text exposition format)',
        operationId: 'metrics',
        responses: { '200': { description: 'Metrics', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    },
    '/v1/openapi.json': {
      get: {
        summary: 'This document',
        operationId: 'openapi',
        responses: {
          '200': {
            description: 'OpenAPI 3.1 document',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
        },
      },
    },
    ...CONSOLE_PATHS,
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    schemas: {
      SqlRequest: {
        type: 'object',
        required: ['sql'],
        additionalProperties: false,
        properties: {
          sql: {
            type: 'string',
            description: 'One or more statements separated by semicolons',
            examples: ['SELECT * FROM bids_per_channel'],
          },
          params: {
            type: 'array',
            description:
              'Values for $1..$n: strings in PostgreSQL text form, numbers, booleans, null, or JSON for jsonb',
            items: {},
          },
        },
      },
      SqlResponse: {
        type: 'object',
        required: ['results'],
        properties: { results: { type: 'array', items: { $ref: '#/components/schemas/StatementResult' } } },
      },
      StatementResult: {
        type: 'object',
        required: ['tag'],
        properties: {
          tag: {
            type: 'string',
            description: 'PostgreSQL command tag',
            examples: ['SELECT 4', 'CREATE MATERIALIZED VIEW'],
          },
          columns: {
            type: 'array',
            items: { $ref: '#/components/schemas/Column' },
            description: 'Present for statements that return rows',
          },
          rows: { type: 'array', items: { type: 'array', items: {} } },
          notices: { type: 'array', items: { type: 'string' } },
        },
      },
      Column: {
        type: 'object',
        required: ['name', 'type'],
        properties: {
          name: { type: 'string' },
          type: {
            type: 'string',
            description: "PostgreSQL format_type spelling, e.g. 'bigint', 'timestamp without time zone'",
          },
        },
      },
      Status: { type: 'object', required: ['status'], properties: { status: { type: 'string' } } },
      ViewRows: {
        type: 'object',
        required: ['columns', 'rows'],
        properties: {
          columns: { type: 'array', items: { $ref: '#/components/schemas/Column' } },
          rows: { type: 'array', items: { type: 'array', items: {} } },
        },
      },
      IngestResult: {
        type: 'object',
        required: ['table', 'rows'],
        properties: { table: { type: 'string' }, rows: { type: 'integer', description: 'Rows appended' } },
      },
      Problem: {
        type: 'object',
        required: ['type', 'title', 'status', 'detail', 'code'],
        properties: {
          type: { type: 'string', format: 'uri', examples: ['https://sluice.dev/errors/42P01'] },
          title: { type: 'string', description: 'The SQLSTATE condition name', examples: ['undefined table'] },
          status: { type: 'integer' },
          detail: { type: 'string', description: 'The error message', examples: ['relation "bidz" does not exist'] },
          code: { type: 'string', description: 'PostgreSQL SQLSTATE', examples: ['42P01'] },
          position: { type: 'integer', description: '1-based character position in `sql`' },
          hint: { type: 'string' },
          message_detail: { type: 'string', description: "PostgreSQL's DETAIL field" },
          line: { type: 'integer', description: '1-based line of a JSON-lines body that failed (ingest)' },
          results: {
            type: 'array',
            items: { $ref: '#/components/schemas/StatementResult' },
            description: 'Results of the statements that ran before the failing one',
          },
        },
      },
    },
  },
} as const
