package sluice;

import java.math.BigDecimal;
import java.sql.*;
import java.util.Properties;

/**
 * pgJDBC against a Sluice server: what DBeaver, Metabase and Tableau ask DatabaseMetaData for,
 * then typed queries through prepared statements (text and binary transfer), a fetch size that
 * makes the driver read a portal in pieces, and errors with their SQLSTATE. Prints one line per
 * fact for the test to check; exits non-zero on the first unexpected exception.
 */
public class JdbcProbe {
  public static void main(String[] args) throws Exception {
    String url = args[0];
    Properties props = new Properties();
    props.setProperty("user", "sluice");
    props.setProperty("password", args.length > 1 ? args[1] : "");
    // Binary transfer from the first execution of a prepared statement.
    props.setProperty("prepareThreshold", "-1");
    try (Connection c = DriverManager.getConnection(url, props)) {
      if ("rows".equals(System.getProperty("probe"))) {
        // After a restart: only the rows, to see NUMERIC(12,2) values keep their scale.
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT id, price FROM users ORDER BY id")) {
          while (rs.next()) System.out.println("price " + rs.getLong(1) + " " + rs.getBigDecimal(2).toPlainString());
        }
        return;
      }
      DatabaseMetaData md = c.getMetaData();
      System.out.println("product " + md.getDatabaseProductName() + " " + md.getDatabaseProductVersion());
      try (ResultSet rs = md.getCatalogs()) { while (rs.next()) System.out.println("catalog " + rs.getString("TABLE_CAT")); }
      try (ResultSet rs = md.getSchemas()) { while (rs.next()) System.out.println("schema " + rs.getString("TABLE_SCHEM")); }
      try (ResultSet rs = md.getTableTypes()) { while (rs.next()) System.out.println("tabletype " + rs.getString(1)); }
      try (ResultSet rs = md.getTables(null, "public", "%", null)) {
        while (rs.next()) System.out.println("table " + rs.getString("TABLE_SCHEM") + "." + rs.getString("TABLE_NAME") + " " + rs.getString("TABLE_TYPE"));
      }
      try (ResultSet rs = md.getTables(null, null, "%", new String[] {"TABLE", "VIEW", "MATERIALIZED VIEW"})) {
        while (rs.next()) System.out.println("table-typed " + rs.getString("TABLE_NAME") + " " + rs.getString("TABLE_TYPE"));
      }
      try (ResultSet rs = md.getColumns(null, "public", "%", "%")) {
        while (rs.next())
          System.out.println("column " + rs.getString("TABLE_NAME") + "." + rs.getString("COLUMN_NAME") + " " + rs.getInt("DATA_TYPE") + " " + rs.getString("TYPE_NAME") + " " + rs.getInt("ORDINAL_POSITION") + " " + rs.getString("IS_NULLABLE"));
      }
      try (ResultSet rs = md.getColumns(null, "public", "users", "%")) {
        while (rs.next()) System.out.println("colsize " + rs.getString("COLUMN_NAME") + " " + rs.getString("TYPE_NAME") + " " + rs.getInt("COLUMN_SIZE") + " " + rs.getInt("DECIMAL_DIGITS"));
      }
      try (ResultSet rs = md.getPrimaryKeys(null, "public", "users")) {
        while (rs.next()) System.out.println("pk " + rs.getString("COLUMN_NAME") + " " + rs.getInt("KEY_SEQ") + " " + rs.getString("PK_NAME"));
      }
      try (ResultSet rs = md.getIndexInfo(null, "public", "users", false, false)) {
        while (rs.next()) System.out.println("index " + rs.getString("INDEX_NAME") + " " + rs.getString("COLUMN_NAME") + " " + rs.getShort("ORDINAL_POSITION") + " " + (rs.getBoolean("NON_UNIQUE") ? "non-unique" : "unique"));
      }
      try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT name, price FROM users")) {
        ResultSetMetaData m = rs.getMetaData();
        for (int i = 1; i <= m.getColumnCount(); i++) System.out.println("rsmeta " + m.getColumnName(i) + " " + m.getColumnTypeName(i) + " " + m.getPrecision(i) + " " + m.getScale(i));
      }
      try (ResultSet rs = md.getImportedKeys(null, "public", "users")) { while (rs.next()) System.out.println("fk " + rs.getString("FK_NAME")); }
      try (ResultSet rs = md.getTypeInfo()) { int n = 0; while (rs.next()) n++; System.out.println("typeinfo " + (n > 0)); }

      try (PreparedStatement ps = c.prepareStatement("SELECT id, name, ts, price FROM users WHERE id = ?")) {
        for (long id = 1; id <= 2; id++) {
          ps.setLong(1, id);
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              Timestamp ts = rs.getTimestamp("ts");
              BigDecimal price = rs.getBigDecimal("price");
              System.out.println("row " + rs.getLong("id") + " " + rs.getString("name") + " " + ts.toInstant() + " " + price.toPlainString());
            }
          }
        }
      }
      try (PreparedStatement ps = c.prepareStatement("SELECT ?::int4 + 1 AS a, ?::text AS b, ?::float8 * 2 AS c, ?::bool AS d, ?::date AS e")) {
        ps.setInt(1, 41);
        ps.setString(2, "héllo");
        ps.setDouble(3, 1.25);
        ps.setBoolean(4, true);
        ps.setDate(5, Date.valueOf("2024-02-29"));
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          System.out.println("params " + rs.getInt("a") + " " + rs.getString("b") + " " + rs.getDouble("c") + " " + rs.getBoolean("d") + " " + rs.getDate("e"));
        }
      }
      // A fetch size outside autocommit: the driver executes with a row limit and resumes the portal.
      c.setAutoCommit(false);
      try (Statement st = c.createStatement()) {
        st.setFetchSize(3);
        long sum = 0;
        int n = 0;
        try (ResultSet rs = st.executeQuery("SELECT n FROM sluice_catalog.series WHERE n BETWEEN 1 AND 10 ORDER BY n")) {
          while (rs.next()) {
            sum += rs.getLong(1);
            n++;
          }
        }
        System.out.println("fetched " + n + " " + sum);
      }
      c.commit();
      c.setAutoCommit(true);
      try (Statement st = c.createStatement()) {
        st.executeQuery("SELECT * FROM no_such_table");
        System.out.println("error none");
      } catch (SQLException e) {
        System.out.println("error " + e.getSQLState());
      }
      try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM users")) {
        rs.next();
        System.out.println("count " + rs.getLong(1));
      }
    }
  }
}
