/**
 * The OpenAPI 3.1 description of the HTTP API, served at `GET /v1/openapi.json`. Written by hand;
 * a test checks that every path here is a route of the app and the other way round.
 */

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
