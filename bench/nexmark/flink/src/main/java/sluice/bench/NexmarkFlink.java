package sluice.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableDescriptor;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.types.Row;
import org.apache.flink.types.RowKind;
import org.apache.flink.util.CloseableIterator;

/**
 * The Flink SQL side of the Nexmark benchmark: one query over the Kafka JSON topics, in a local
 * MiniCluster, into a blackhole table, bounded by the topics' end offsets at start.
 *
 * <p>Usage: {@code NexmarkFlink <brokers> <topic-prefix> <query-file> <parallelism> [count]}. The
 * query file holds one SELECT. With {@code count}, it prints {@code COUNT <rows>} (the query's
 * final row count, for the harness's check) instead of timing anything. The harness (bench/nexmark/run.ts) measures this process's CPU from
 * /proc, so the main talks to it over stdin/stdout: it prints {@code READY} once the JVM and the
 * table environment are up and a warm-up job has run, waits for a line on stdin, runs the job (MiniCluster start included:
 * it is part of what Flink costs), prints {@code DONE <ms>} and waits for stdin to close, so the
 * harness reads the CPU counters while nothing else runs.
 */
public final class NexmarkFlink {
  private NexmarkFlink() {}

  /** Same columns as Sluice's sources; TIMESTAMP(3) because a rowtime attribute must be. */
  private static final String[][] TABLES = {
    {
      "person",
      "id BIGINT, name STRING, email_address STRING, credit_card STRING, city STRING, state STRING,"
          + " date_time TIMESTAMP(3), extra STRING"
    },
    {
      "auction",
      "id BIGINT, item_name STRING, description STRING, initial_bid BIGINT, reserve BIGINT,"
          + " date_time TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra STRING"
    },
    {
      "bid",
      "auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,"
          + " date_time TIMESTAMP(3), extra STRING"
    },
  };

  public static void main(String[] args) throws Exception {
    if (args.length != 4 && !(args.length == 5 && args[4].equals("count"))) {
      System.err.println("usage: NexmarkFlink <brokers> <topic-prefix> <query-file> <parallelism> [count]");
      System.exit(2);
    }
    String brokers = args[0];
    String prefix = args[1];
    String query = Files.readString(Path.of(args[2]), StandardCharsets.UTF_8).trim();
    if (query.endsWith(";")) query = query.substring(0, query.length() - 1);

    Configuration conf = new Configuration();
    conf.setString("parallelism.default", args[3]);
    // The Nexmark suite's Flink settings: mini-batch on, as in the measurement.
    conf.setString("table.exec.mini-batch.enabled", "true");
    conf.setString("table.exec.mini-batch.allow-latency", "2 s");
    conf.setString("table.exec.mini-batch.size", "5000");
    conf.setString("rest.bind-port", "0");
    TableEnvironment env =
        TableEnvironment.create(
            EnvironmentSettings.newInstance().inStreamingMode().withConfiguration(conf).build());
    for (String[] t : TABLES) {
      env.executeSql(
          "CREATE TABLE "
              + t[0]
              + " ("
              + t[1]
              + ", WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND) WITH ("
              + "'connector' = 'kafka', 'topic' = '"
              + prefix
              + t[0]
              + "', 'properties.bootstrap.servers' = '"
              + brokers
              + "', 'properties.group.id' = 'nexmark-flink', 'scan.startup.mode' = 'earliest-offset',"
              + " 'scan.bounded.mode' = 'latest-offset', 'format' = 'json')");
    }

    // Warm-up: a tiny job loads the planner, code generator and MiniCluster classes before the
    // timed span, as Sluice's modules are loaded before its READY. The timed job still starts its
    // own MiniCluster, which is part of what a Flink query costs.
    env.executeSql("CREATE TEMPORARY TABLE warmup_sink (x INT) WITH ('connector' = 'blackhole')");
    env.executeSql("INSERT INTO warmup_sink SELECT x FROM (VALUES (1), (2)) AS t(x)").await();

    if (args.length == 5) {
      System.out.println("COUNT " + countRows(env, query));
      System.exit(0);
    }

    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    System.out.println("READY");
    System.out.flush();
    if (in.readLine() == null) return;

    long start = System.nanoTime();
    TableResult result =
        env.sqlQuery(query).executeInsert(TableDescriptor.forConnector("blackhole").build());
    result.await();
    long ms = (System.nanoTime() - start) / 1_000_000;
    System.out.println("DONE " + ms);
    System.out.flush();
    drain(in);
    System.exit(0);
  }

  /**
   * The number of rows the query holds once the bounded input is consumed (every window fired):
   * the harness compares it with PostgreSQL's, so a Flink run that reads nothing, or a query text
   * that means something else in Flink's dialect, shows.
   */
  private static long countRows(TableEnvironment env, String query) throws Exception {
    long last = 0;
    try (CloseableIterator<Row> rows = env.executeSql("SELECT count(*) FROM (" + query + ")").collect()) {
      while (rows.hasNext()) {
        Row row = rows.next();
        if (row.getKind() == RowKind.INSERT || row.getKind() == RowKind.UPDATE_AFTER) {
          last = ((Number) row.getField(0)).longValue();
        }
      }
    }
    return last;
  }

  private static void drain(BufferedReader in) throws IOException {
    while (in.readLine() != null) {
      // the harness closes stdin once it has read the counters
    }
  }
}
