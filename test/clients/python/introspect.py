"""psycopg2 and SQLAlchemy's inspector against a Sluice server (argv[1] = pgwire port).

Prints one JSON document with what each client saw, for test/clients/python.test.ts to check.
"""
import json
import sys

import psycopg2
import psycopg2.errors
import sqlalchemy as sa

port = int(sys.argv[1])
out = {}

if sys.argv[2:] == ['prices']:
    # After a restart: NUMERIC(12,2) values as psycopg2 reads them (Decimal, with their scale).
    conn = psycopg2.connect(host='127.0.0.1', port=port, user='sluice', dbname='sluice')
    with conn.cursor() as cur:
        cur.execute('SELECT id, price FROM users ORDER BY id')
        print(json.dumps([[r[0], None if r[1] is None else str(r[1])] for r in cur.fetchall()]))
    conn.close()
    sys.exit(0)

conn = psycopg2.connect(host='127.0.0.1', port=port, user='sluice', dbname='sluice')
conn.autocommit = True
with conn.cursor() as cur:
    cur.execute('SELECT id, name, price FROM users WHERE id = %s', (1,))
    row = cur.fetchone()
    out['row'] = [row[0], row[1], str(row[2])]
    out['description'] = [[d.name, d.type_code] for d in cur.description]
    cur.execute('SELECT 1 AS a; SELECT 2 AS b')
    out['multi'] = cur.fetchall()
    try:
        cur.execute('SELECT * FROM missing_table')
        out['error'] = None
    except psycopg2.Error as e:
        out['error'] = e.pgcode
    cur.execute("SELECT count(*) FROM users WHERE name = ANY(%s)", (['ann', 'zed'],))
    out['any'] = cur.fetchone()[0]
out['server_version'] = conn.server_version
conn.close()

engine = sa.create_engine(f'postgresql+psycopg2://sluice@127.0.0.1:{port}/sluice')
insp = sa.inspect(engine)
out['tables'] = sorted(insp.get_table_names())
out['views'] = sorted(insp.get_view_names())
if hasattr(insp, 'get_materialized_view_names'):
    out['materialized_views'] = sorted(insp.get_materialized_view_names())
out['schemas'] = sorted(insp.get_schema_names())
out['columns'] = {t: [[c['name'], str(c['type']), c['nullable']] for c in insp.get_columns(t)] for t in ['users', 'mv', 'v']}
out['view_definition'] = insp.get_view_definition('v').strip()
out['pk'] = insp.get_pk_constraint('users')
out['indexes'] = sorted([[i['name'], i['column_names'], bool(i['unique'])] for i in insp.get_indexes('users')])
with engine.connect() as c:
    out['sa_rows'] = [list(r) for r in c.execute(sa.text('SELECT id, name FROM users WHERE id >= :lo ORDER BY id'), {'lo': 1})]
engine.dispose()
print(json.dumps(out))
