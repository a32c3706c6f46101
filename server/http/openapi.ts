/** The OpenAPI 3 description of the HTTP API, served at /v1/openapi.json. */
export const OPENAPI = {
  openapi: '3.0.3',
  info: { title: 'Sluice HTTP API', version: '0.1.0' },
  paths: {
    '/v1/sql': {
      post: {
        summary: 'Run SQL statements',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { type: 'object', required: ['sql'], properties: { sql: { type: 'string' }, params: { type: 'array', items: {} } } } } },
        },
        responses: {
          '200': { description: 'One result per statement: tag, columns (name, PostgreSQL type), rows' },
          '400': { description: 'Problem document (application/problem+json) with the SQLSTATE in "code"' },
          '500': { description: 'Internal error (a bug)' },
          '503': { description: 'An external system failed (retryable)' },
        },
      },
    },
    '/healthz': { get: { summary: 'Liveness', responses: { '200': { description: 'ok' } } } },
    '/readyz': { get: { summary: 'Readiness', responses: { '200': { description: 'ready' } } } },
    '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text exposition format' } } } },
  },
} as const
