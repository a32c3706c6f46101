package sluice;

import io.delta.kernel.Scan;
import io.delta.kernel.Snapshot;
import io.delta.kernel.Table;
import io.delta.kernel.data.ColumnVector;
import io.delta.kernel.data.ColumnarBatch;
import io.delta.kernel.data.FilteredColumnarBatch;
import io.delta.kernel.data.Row;
import io.delta.kernel.defaults.engine.DefaultEngine;
import io.delta.kernel.engine.Engine;
import io.delta.kernel.internal.InternalScanFileUtils;
import io.delta.kernel.internal.SnapshotImpl;
import io.delta.kernel.internal.data.ScanStateRow;
import io.delta.kernel.types.StructType;
import io.delta.kernel.utils.CloseableIterator;
import io.delta.kernel.utils.FileStatus;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;

/**
 * Prints a Delta table as Delta's Kernel reads it: `txn <version>` for the given appId, then one
 * line per row with the columns tab-separated (`\N` for null).
 */
public final class DeltaRead {
  public static void main(String[] args) throws Exception {
    Engine engine = DefaultEngine.create(new Configuration());
    Snapshot snapshot = Table.forPath(engine, args[0]).getLatestSnapshot(engine);
    if (args.length > 1) {
      Optional<Long> txn = ((SnapshotImpl) snapshot).getLatestTransactionVersion(engine, args[1]);
      System.out.println("txn " + txn.map(String::valueOf).orElse("none"));
    }
    StructType schema = snapshot.getSchema();
    System.out.println("schema " + schema.fieldNames());
    Scan scan = snapshot.getScanBuilder().build();
    Row scanState = scan.getScanState(engine);
    StructType readSchema = ScanStateRow.getPhysicalDataReadSchema(engine, scanState);
    StringBuilder out = new StringBuilder();
    try (CloseableIterator<FilteredColumnarBatch> files = scan.getScanFiles(engine)) {
      while (files.hasNext()) {
        try (CloseableIterator<Row> rows = files.next().getRows()) {
          while (rows.hasNext()) {
            Row file = rows.next();
            FileStatus status = InternalScanFileUtils.getAddFileStatus(file);
            CloseableIterator<ColumnarBatch> physical =
                engine.getParquetHandler().readParquetFiles(singleton(status), readSchema, Optional.empty());
            try (CloseableIterator<FilteredColumnarBatch> data = Scan.transformPhysicalData(engine, scanState, file, physical)) {
              while (data.hasNext()) print(data.next(), out);
            }
          }
        }
      }
    }
    System.out.print(out);
  }

  private static void print(FilteredColumnarBatch filtered, StringBuilder out) {
    ColumnarBatch batch = filtered.getData();
    for (int r = 0; r < batch.getSize(); r++) {
      if (filtered.getSelectionVector().isPresent() && !filtered.getSelectionVector().get().getBoolean(r)) continue;
      for (int c = 0; c < batch.getSchema().length(); c++) {
        if (c > 0) out.append('\t');
        out.append(value(batch.getColumnVector(c), r));
      }
      out.append('\n');
    }
  }

  private static String value(ColumnVector v, int r) {
    if (v.isNullAt(r)) return "\\N";
    String t = v.getDataType().toString();
    switch (t) {
      case "boolean": return String.valueOf(v.getBoolean(r));
      case "short": return String.valueOf(v.getShort(r));
      case "integer": case "date": return String.valueOf(v.getInt(r));
      case "long": case "timestamp": case "timestamp_ntz": return String.valueOf(v.getLong(r));
      case "float": return String.valueOf(v.getFloat(r));
      case "double": return String.valueOf(v.getDouble(r));
      case "binary": return java.util.HexFormat.of().formatHex(v.getBinary(r));
      default: return v.getString(r);
    }
  }

  private static <T> CloseableIterator<T> singleton(T item) {
    return new CloseableIterator<T>() {
      private boolean done;
      public boolean hasNext() { return !done; }
      public T next() { done = true; return item; }
      public void close() {}
    };
  }
}
