/**
 * The Nexmark queries the benchmark runs, each in three dialects: Sluice's (NEXMARK.md), Flink
 * SQL's and PostgreSQL's (the correctness oracle). Where the text is the same in all three, only
 * `sql` is given; a dialect differs only where the window syntax or a function name forces it
 * (Flink's window TVFs are `TABLE(HOP(TABLE t, DESCRIPTOR(c), ...))`, PostgreSQL has no windows
 * and gets `date_bin` / `generate_series`).
 *
 * q0–q8 and q9–q22 are listed; a query Sluice refuses is reported by the harness as a gap with
 * the SQLSTATE and message of the refusal (so a gap closes by itself once Sluice supports it).
 * The few the harness cannot express at all (no SQL form without an external system or a UDF)
 * carry a fixed `gap` reason here.
 */

export interface NexmarkQuery {
  readonly name: string
  readonly title: string
  /** Sluice's text; also Flink's and PostgreSQL's unless given below. */
  readonly sql: string
  readonly flink?: string
  readonly postgres?: string
  /** Why the harness does not run it at all (not a Sluice refusal: that one is found by trying). */
  readonly gap?: string
  /**
   * Tables the query reads besides the three streams: statements Sluice and PostgreSQL both run
   * before the query (in the check, and before the timed span of a timed run).
   */
  readonly tables?: readonly string[]
  /** Why Flink does not run it though Sluice does (Sluice is still checked and timed). */
  readonly flinkGap?: string
}

/** PostgreSQL forms of the windows: start of the tumbling window of `c`, and the hop rows. */
const pgTumble = (c: string, secs: number): string => `date_bin('${secs} seconds', ${c}, timestamp '1970-01-01')`

/** bid with one row per HOP(2 s, 10 s) window each bid falls in, as PostgreSQL. */
const PG_HOP_BID = `(SELECT b.*, date_bin('2 seconds', b.date_time, timestamp '1970-01-01') - k * interval '2 seconds' AS window_start
   FROM bid b CROSS JOIN generate_series(0, 4) AS k)`

const Q5_SLUICE = `SELECT ab.auction, ab.num FROM (
  SELECT auction, count(*) AS num, window_start FROM HOP(bid, date_time, INTERVAL '2 seconds', INTERVAL '10 seconds')
  GROUP BY auction, window_start) ab
JOIN (
  SELECT max(num) AS maxn, window_start FROM (
    SELECT count(*) AS num, window_start FROM HOP(bid, date_time, INTERVAL '2 seconds', INTERVAL '10 seconds')
    GROUP BY auction, window_start) c
  GROUP BY window_start) mb
ON ab.window_start = mb.window_start AND ab.num >= mb.maxn`

/**
 * q10 and q15–q17: the suite's DATE_FORMAT(date_time, 'yyyy-MM-dd') and (..., 'HH:mm') are
 * to_char in Sluice and PostgreSQL; its price ranks are FILTER clauses in all three dialects.
 */
const DAY = `to_char(date_time, 'YYYY-MM-DD')`
const MINUTE = `to_char(date_time, 'HH24:MI')`
const FLINK_DAY = `DATE_FORMAT(date_time, 'yyyy-MM-dd')`
const FLINK_MINUTE = `DATE_FORMAT(date_time, 'HH:mm')`
const RANKS = ['price < 10000', 'price >= 10000 AND price < 1000000', 'price >= 1000000']
const ranked = (agg: string, what: string): string =>
  RANKS.map((r, i) => `${agg} FILTER (WHERE ${r}) AS rank${i + 1}_${what}`).join(',\n  ')
/** q15 and q16's columns after the day (q16 also has the channel and the minute before them). */
const RANKED_COUNTS = `count(*) AS total_bids,
  ${ranked('count(*)', 'bids')},
  count(DISTINCT bidder) AS total_bidders,
  ${ranked('count(DISTINCT bidder)', 'bidders')},
  count(DISTINCT auction) AS total_auctions,
  ${ranked('count(DISTINCT auction)', 'auctions')}`
/** `day` and `minute` are reserved in Flink SQL. */
const q15 = (day: string, quote: string): string =>
  `SELECT ${day} AS ${quote}day${quote},\n  ${RANKED_COUNTS}\nFROM bid GROUP BY ${day}`
const q16 = (day: string, minute: string, quote: string): string =>
  `SELECT channel, ${day} AS ${quote}day${quote}, max(${minute}) AS ${quote}minute${quote},\n  ${RANKED_COUNTS}\nFROM bid GROUP BY channel, ${day}`
const q17 = (
  day: string,
  quote: string,
): string => `SELECT auction, ${day} AS ${quote}day${quote}, count(*) AS total_bids,
  ${ranked('count(*)', 'bids')},
  min(price) AS min_price, max(price) AS max_price, avg(price) AS avg_price, sum(price) AS sum_price
FROM bid GROUP BY auction, ${day}`

const FLINK_HOP = `TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))`
const FLINK_TUMBLE = (t: string): string => `TABLE(TUMBLE(TABLE ${t}, DESCRIPTOR(date_time), INTERVAL '10' SECOND))`

export const QUERIES: readonly NexmarkQuery[] = [
  {
    name: 'q0',
    title: 'pass-through',
    sql: `SELECT auction, bidder, price, date_time, extra FROM bid`,
  },
  {
    name: 'q1',
    title: 'currency conversion',
    sql: `SELECT auction, bidder, 0.908 * price AS price, date_time, extra FROM bid`,
  },
  {
    name: 'q2',
    title: 'selection',
    sql: `SELECT auction, price FROM bid WHERE auction % 123 = 0`,
  },
  {
    name: 'q3',
    title: 'local item suggestion',
    sql: `SELECT p.name, p.city, p.state, a.id FROM auction a JOIN person p ON a.seller = p.id
WHERE a.category = 10 AND p.state IN ('OR', 'ID', 'CA')`,
  },
  {
    name: 'q4',
    title: 'average price per category',
    sql: `SELECT q.category, avg(q.final) AS avg_final FROM (
  SELECT max(b.price) AS final, a.category FROM auction a JOIN bid b
    ON a.id = b.auction AND b.date_time BETWEEN a.date_time AND a.expires
  GROUP BY a.id, a.category) q
GROUP BY q.category`,
  },
  {
    name: 'q5',
    title: 'hot items',
    sql: Q5_SLUICE,
    flink: `SELECT ab.auction, ab.num FROM (
  SELECT auction, count(*) AS num, window_start, window_end FROM ${FLINK_HOP}
  GROUP BY auction, window_start, window_end) ab
JOIN (
  SELECT max(num) AS maxn, window_start, window_end FROM (
    SELECT count(*) AS num, window_start, window_end FROM ${FLINK_HOP}
    GROUP BY auction, window_start, window_end) c
  GROUP BY window_start, window_end) mb
ON ab.window_start = mb.window_start AND ab.window_end = mb.window_end AND ab.num >= mb.maxn`,
    postgres: Q5_SLUICE.replaceAll(
      `HOP(bid, date_time, INTERVAL '2 seconds', INTERVAL '10 seconds')`,
      `${PG_HOP_BID} h`,
    ),
  },
  {
    name: 'q6',
    title: 'average selling price by seller',
    // The suite's text, with ties broken (by date_time after price, by id after date_time) so
    // that one result is right. Sluice refuses it until it has avg() over a ROWS frame (0A000).
    sql: `SELECT seller, avg(price) OVER (PARTITION BY seller ORDER BY date_time, id ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) AS avg_price
FROM (SELECT a.id, a.seller, b.price, b.date_time,
    ROW_NUMBER() OVER (PARTITION BY a.id, a.seller ORDER BY b.price DESC, b.date_time) AS rownum
  FROM auction a JOIN bid b ON a.id = b.auction AND b.date_time BETWEEN a.date_time AND a.expires) q
WHERE rownum <= 1`,
    flinkGap:
      "Flink SQL's OVER aggregation cannot take the retractions of the winning-bid top-1, so the suite does not run q6 on Flink either",
  },
  {
    name: 'q7',
    title: 'highest bid',
    sql: `SELECT b.auction, b.price, b.bidder, b.date_time FROM bid b
JOIN (SELECT max(price) AS maxprice, window_end FROM TUMBLE(bid, date_time, INTERVAL '10 seconds')
      GROUP BY window_end) b1
ON b.price = b1.maxprice AND b.date_time BETWEEN b1.window_end - INTERVAL '10 seconds' AND b1.window_end`,
    flink: `SELECT b.auction, b.price, b.bidder, b.date_time FROM bid b
JOIN (SELECT max(price) AS maxprice, window_end FROM ${FLINK_TUMBLE('bid')}
      GROUP BY window_start, window_end) b1
ON b.price = b1.maxprice AND b.date_time BETWEEN b1.window_end - INTERVAL '10' SECOND AND b1.window_end`,
    postgres: `SELECT b.auction, b.price, b.bidder, b.date_time FROM bid b
JOIN (SELECT max(price) AS maxprice, ${pgTumble('date_time', 10)} + interval '10 seconds' AS window_end FROM bid
      GROUP BY 2) b1
ON b.price = b1.maxprice AND b.date_time BETWEEN b1.window_end - INTERVAL '10 seconds' AND b1.window_end`,
  },
  {
    name: 'q8',
    title: 'monitor new users',
    sql: `SELECT p.id, p.name, p.window_start FROM (
  SELECT id, name, window_start, window_end FROM TUMBLE(person, date_time, INTERVAL '10 seconds')
  GROUP BY id, name, window_start, window_end) p
JOIN (
  SELECT seller, window_start, window_end FROM TUMBLE(auction, date_time, INTERVAL '10 seconds')
  GROUP BY seller, window_start, window_end) a
ON p.id = a.seller AND p.window_start = a.window_start AND p.window_end = a.window_end`,
    flink: `SELECT p.id, p.name, p.window_start FROM (
  SELECT id, name, window_start, window_end FROM ${FLINK_TUMBLE('person')}
  GROUP BY id, name, window_start, window_end) p
JOIN (
  SELECT seller, window_start, window_end FROM ${FLINK_TUMBLE('auction')}
  GROUP BY seller, window_start, window_end) a
ON p.id = a.seller AND p.window_start = a.window_start AND p.window_end = a.window_end`,
    postgres: `SELECT p.id, p.name, p.window_start FROM (
  SELECT DISTINCT id, name, ${pgTumble('date_time', 10)} AS window_start FROM person) p
JOIN (
  SELECT DISTINCT seller, ${pgTumble('date_time', 10)} AS window_start FROM auction) a
ON p.id = a.seller AND p.window_start = a.window_start`,
  },
  {
    name: 'q9',
    title: 'winning bids',
    sql: `SELECT id, item_name, seller, category, auction, bidder, price, bid_date_time FROM (
  SELECT a.id, a.item_name, a.seller, a.category, b.auction, b.bidder, b.price, b.date_time AS bid_date_time,
    ROW_NUMBER() OVER (PARTITION BY a.id ORDER BY b.price DESC, b.date_time ASC) AS rownum
  FROM auction a JOIN bid b ON a.id = b.auction AND b.date_time BETWEEN a.date_time AND a.expires) w
WHERE rownum <= 1`,
  },
  {
    name: 'q10',
    title: 'log to file system (as a projection)',
    // The suite writes these rows to files partitioned by dt and hm; here they go to the sink.
    sql: `SELECT auction, bidder, price, date_time, extra, ${DAY} AS dt, ${MINUTE} AS hm FROM bid`,
    flink: `SELECT auction, bidder, price, date_time, extra, ${FLINK_DAY} AS dt, ${FLINK_MINUTE} AS hm FROM bid`,
  },
  {
    name: 'q11',
    title: 'user sessions',
    sql: `SELECT bidder, count(*) AS bid_count, window_start, window_end
FROM SESSION(bid, date_time, INTERVAL '10 seconds') GROUP BY bidder, window_start, window_end`,
    flink: `SELECT bidder, count(*) AS bid_count, window_start, window_end
FROM TABLE(SESSION(TABLE bid PARTITION BY bidder, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
GROUP BY bidder, window_start, window_end`,
    // Sessions per bidder: a row more than 10 s after the previous one of its bidder opens a new one.
    postgres: `WITH o AS (
  SELECT bidder, date_time, CASE WHEN date_time - lag(date_time) OVER (PARTITION BY bidder ORDER BY date_time)
    <= interval '10 seconds' THEN 0 ELSE 1 END AS opens FROM bid),
s AS (SELECT bidder, date_time, sum(opens) OVER (PARTITION BY bidder ORDER BY date_time ROWS UNBOUNDED PRECEDING) AS sid FROM o)
SELECT bidder, count(*) AS bid_count, min(date_time) AS window_start, max(date_time) + interval '10 seconds' AS window_end
FROM s GROUP BY bidder, sid`,
  },
  {
    name: 'q12',
    title: 'processing-time windows',
    sql: '',
    gap: 'groups by processing time (a PROCTIME() column in a TUMBLE window): its result depends on the wall clock, so no run can be checked against PostgreSQL, and Sluice has PROCTIME() only in lookup joins (FOR SYSTEM_TIME AS OF PROCTIME()), not as a column to window by (42883)',
  },
  {
    name: 'q13',
    title: 'bounded side input join',
    // The suite's side input is a file of 10,000 rows `i,i` (its SideInputGenerator, run with
    // --num 10000) read as a lookup table; here it is a table loaded before the query.
    tables: [
      'CREATE TABLE side_input (key BIGINT PRIMARY KEY, value VARCHAR)',
      'INSERT INTO side_input SELECT g, CAST(g AS VARCHAR) FROM generate_series(0, 9999) AS g',
    ],
    sql: `SELECT b.auction, b.bidder, b.price, b.date_time, s.value FROM bid b
JOIN side_input FOR SYSTEM_TIME AS OF PROCTIME() AS s ON b.auction % 10000 = s.key`,
    // The side input does not change while the stream runs, so the lookup join is a plain join.
    postgres: `SELECT b.auction, b.bidder, b.price, b.date_time, s.value FROM bid b
JOIN side_input s ON b.auction % 10000 = s.key`,
    flinkGap:
      'the suite reads the side input through a file-backed lookup table; the Flink baseline declares only the Kafka tables',
  },
  {
    name: 'q14',
    title: 'calculation',
    sql: `SELECT auction, bidder, 0.908 * price AS price,
  CASE WHEN EXTRACT(HOUR FROM date_time) >= 8 AND EXTRACT(HOUR FROM date_time) <= 18 THEN 'dayTime'
       WHEN EXTRACT(HOUR FROM date_time) <= 6 OR EXTRACT(HOUR FROM date_time) >= 20 THEN 'nightTime'
       ELSE 'otherTime' END AS bid_time_type,
  date_time, extra
FROM bid WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000`,
  },
  {
    name: 'q15',
    title: 'bidding statistics per day',
    sql: q15(DAY, ''),
    flink: q15(FLINK_DAY, '`'),
  },
  {
    name: 'q16',
    title: 'channel statistics per day',
    sql: q16(DAY, MINUTE, ''),
    flink: q16(FLINK_DAY, FLINK_MINUTE, '`'),
  },
  {
    name: 'q17',
    title: 'auction statistics per day',
    sql: q17(DAY, ''),
    flink: q17(FLINK_DAY, '`'),
  },
  {
    name: 'q18',
    title: 'last bid per bidder and auction',
    sql: `SELECT auction, bidder, price, channel, url, date_time FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY date_time DESC, price DESC) AS rank_number FROM bid) t
WHERE rank_number <= 1`,
  },
  {
    name: 'q19',
    title: 'top 10 bids per auction',
    sql: `SELECT auction, bidder, price, rank_number FROM (
  SELECT auction, bidder, price, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC, bidder, date_time) AS rank_number FROM bid) t
WHERE rank_number <= 10`,
  },
  {
    name: 'q20',
    title: 'expand bid with auction',
    sql: `SELECT b.auction, b.bidder, b.price, b.channel, b.date_time, a.item_name, a.initial_bid, a.reserve, a.expires, a.seller, a.category
FROM bid b JOIN auction a ON b.auction = a.id WHERE a.category = 10`,
  },
  {
    name: 'q21',
    title: 'add channel id',
    sql: `SELECT auction, bidder, price, channel,
  CASE WHEN lower(channel) = 'apple' THEN '0' WHEN lower(channel) = 'google' THEN '1'
       WHEN lower(channel) = 'facebook' THEN '2' WHEN lower(channel) = 'baidu' THEN '3'
       ELSE split_part(split_part(url, 'channel_id=', 2), '&', 1) END AS channel_id
FROM bid WHERE lower(channel) IN ('apple', 'google', 'facebook', 'baidu') OR url LIKE '%channel_id=%'`,
    flink: `SELECT auction, bidder, price, channel,
  CASE WHEN lower(channel) = 'apple' THEN '0' WHEN lower(channel) = 'google' THEN '1'
       WHEN lower(channel) = 'facebook' THEN '2' WHEN lower(channel) = 'baidu' THEN '3'
       ELSE REGEXP_EXTRACT(url, '(&|^|\\?)channel_id=([^&]*)', 2) END AS channel_id
FROM bid WHERE lower(channel) IN ('apple', 'google', 'facebook', 'baidu') OR url LIKE '%channel_id=%'`,
  },
  {
    name: 'q22',
    title: 'get URL directories',
    sql: `SELECT auction, bidder, price, channel,
  split_part(url, '/', 4) AS dir1, split_part(url, '/', 5) AS dir2, split_part(url, '/', 6) AS dir3 FROM bid`,
    flink: `SELECT auction, bidder, price, channel,
  SPLIT_INDEX(url, '/', 3) AS dir1, SPLIT_INDEX(url, '/', 4) AS dir2, SPLIT_INDEX(url, '/', 5) AS dir3 FROM bid`,
  },
]

/** The queries whose names match `spec` (`q0-q8,q20`, `all`). */
export function selectQueries(spec: string): NexmarkQuery[] {
  if (spec === 'all') return [...QUERIES]
  const wanted = new Set<string>()
  for (const part of spec.split(',')) {
    const range = /^q(\d+)-q?(\d+)$/.exec(part.trim())
    if (range !== null) for (let i = Number(range[1]); i <= Number(range[2]); i++) wanted.add(`q${i}`)
    else wanted.add(part.trim())
  }
  const unknown = [...wanted].filter((w) => !QUERIES.some((q) => q.name === w))
  if (unknown.length > 0) throw new Error(`unknown queries: ${unknown.join(', ')} (known: q0-q22)`)
  return QUERIES.filter((q) => wanted.has(q.name))
}
