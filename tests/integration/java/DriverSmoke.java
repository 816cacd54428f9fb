// pgjdbc through pgrouter: server-prepared statements (run with prepareThreshold=1 in the URL),
// batch inserts, a fetchSize cursor inside a transaction, and the same prepared statements
// repeated across many transactions on several connections, so they run on different pooled
// server connections. Prints "key=value" lines that tests/integration/test_drivers.py asserts;
// any failure is an exception and a non-zero exit.
//
//   java -cp /usr/share/java/postgresql.jar:DIR DriverSmoke 'jdbc:postgresql://...'
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.postgresql.PGStatement;

public final class DriverSmoke {
    static final int ROWS = 1000;

    public static void main(String[] args) throws Exception {
        String url = args[0];
        try (Connection c = DriverManager.getConnection(url)) {
            setup(c);
            batch(c);
            prepared(c);
            cursor(c);
            error(c);
        }
        manyTransactions(url, 4, 25);
        System.out.println("done=true");
    }

    static void setup(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("DROP TABLE IF EXISTS jdbc_t");
            s.execute("CREATE TABLE jdbc_t (id int PRIMARY KEY, name text, v double precision)");
        }
    }

    // addBatch/executeBatch: 1,000 rows in batches of 100, in autocommit.
    static void batch(Connection c) throws SQLException {
        int updated = 0;
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO jdbc_t VALUES (?, ?, ?)")) {
            for (int i = 1; i <= ROWS; i++) {
                ps.setInt(1, i);
                ps.setString(2, "name-" + i + "-ü");
                ps.setDouble(3, i / 4.0);
                ps.addBatch();
                if (i % 100 == 0)
                    for (int n : ps.executeBatch())
                        updated += n;
            }
        }
        System.out.println("batch_updated=" + updated);
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*), sum(v), max(name) FROM jdbc_t")) {
            rs.next();
            System.out.println("batch_count=" + rs.getLong(1));
            System.out.println("batch_sum=" + rs.getDouble(2));
            System.out.println("batch_max_name=" + rs.getString(3));
        }
    }

    // With prepareThreshold=1 every execution uses a named server-side statement.
    static void prepared(Connection c) throws SQLException {
        int ok = 0;
        boolean server = false;
        try (PreparedStatement ps = c.prepareStatement("SELECT name, v FROM jdbc_t WHERE id = ?")) {
            for (int i = 1; i <= 50; i++) {
                ps.setInt(1, i * 7);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next() && rs.getString(1).equals("name-" + (i * 7) + "-ü")
                        && rs.getDouble(2) == i * 7 / 4.0 && !rs.next())
                        ok++;
                }
            }
            server = ps.unwrap(PGStatement.class).isUseServerPrepare();
        }
        System.out.println("prepared_ok=" + ok);
        System.out.println("prepared_server=" + server);
        // The driver's named statements exist on the server connection the transaction uses.
        c.setAutoCommit(false);
        try (PreparedStatement ps = c.prepareStatement("SELECT ?::int + 1");
             PreparedStatement q = c.prepareStatement(
                 "SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT $1::int + 1'")) {
            ps.setInt(1, 41);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                System.out.println("prepared_value=" + rs.getInt(1));
            }
            try (ResultSet rs = q.executeQuery()) {
                rs.next();
                System.out.println("prepared_on_server=" + rs.getLong(1));
            }
        }
        c.commit();
        c.setAutoCommit(true);
    }

    // setFetchSize inside a transaction: the driver reads a named portal 10 rows at a time.
    static void cursor(Connection c) throws SQLException {
        c.setAutoCommit(false);
        long rows = 0, sum = 0;
        String portalSeen = "none";
        try (PreparedStatement ps = c.prepareStatement("SELECT id FROM jdbc_t ORDER BY id")) {
            ps.setFetchSize(10);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows++;
                    sum += rs.getInt(1);
                    if (rows == 500) {
                        // Mid-iteration, the driver's named portal is open on the server.
                        try (Statement s = c.createStatement();
                             ResultSet p = s.executeQuery(
                                 "SELECT coalesce(string_agg(name, ','), 'none') FROM pg_cursors WHERE name <> ''")) {
                            p.next();
                            portalSeen = p.getString(1);
                        }
                    }
                }
            }
        }
        c.commit();
        c.setAutoCommit(true);
        System.out.println("cursor_rows=" + rows);
        System.out.println("cursor_sum=" + sum);
        System.out.println("cursor_portals_mid=" + portalSeen);
    }

    // An error inside a transaction, rollback, and the connection goes on.
    static void error(Connection c) throws SQLException {
        c.setAutoCommit(false);
        String state = "none";
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO jdbc_t VALUES (?, 'dup', 0)")) {
            ps.setInt(1, 1);
            ps.executeUpdate();
        } catch (SQLException e) {
            state = e.getSQLState();
        }
        c.rollback();
        c.setAutoCommit(true);
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FROM jdbc_t")) {
            rs.next();
            System.out.println("error_sqlstate=" + state);
            System.out.println("error_count_after=" + rs.getLong(1));
        }
    }

    // n connections each run the same prepared statements in `rounds` transactions. All n hold a
    // transaction at once, and the commit order rotates, so a client's statements meet a server
    // connection that has not seen them yet; pgrouter must prepare them there.
    static void manyTransactions(String url, int n, int rounds) throws SQLException {
        List<Connection> conns = new ArrayList<>();
        List<PreparedStatement> sel = new ArrayList<>();
        List<PreparedStatement> upd = new ArrayList<>();
        List<Set<Integer>> pids = new ArrayList<>();
        int ok = 0;
        try {
            for (int k = 0; k < n; k++) {
                Connection c = DriverManager.getConnection(url);
                c.setAutoCommit(false);
                conns.add(c);
                sel.add(c.prepareStatement("SELECT pg_backend_pid(), ?::int * 3, name FROM jdbc_t WHERE id = ?"));
                upd.add(c.prepareStatement("UPDATE jdbc_t SET v = v + 1 WHERE id = ?"));
                pids.add(new HashSet<>());
            }
            for (int r = 0; r < rounds; r++) {
                for (int k = 0; k < n; k++) {
                    PreparedStatement s = sel.get(k);
                    s.setInt(1, r);
                    s.setInt(2, k + 1);
                    try (ResultSet rs = s.executeQuery()) {
                        rs.next();
                        pids.get(k).add(rs.getInt(1));
                        if (rs.getInt(2) == r * 3 && rs.getString(3).equals("name-" + (k + 1) + "-ü"))
                            ok++;
                    }
                    PreparedStatement u = upd.get(k);
                    u.setInt(1, k + 1);
                    if (u.executeUpdate() == 1)
                        ok++;
                }
                for (int j = 0; j < n; j++)
                    conns.get((j + r) % n).commit();
            }
        } finally {
            for (Connection c : conns)
                c.close();
        }
        int minDistinct = Integer.MAX_VALUE;
        for (Set<Integer> p : pids)
            minDistinct = Math.min(minDistinct, p.size());
        System.out.println("many_ok=" + ok);
        System.out.println("many_expected=" + (2 * n * rounds));
        System.out.println("many_min_distinct_server_pids=" + minDistinct);
    }
}
