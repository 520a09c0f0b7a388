"""Times typical analyst queries on one lake with ward and with DuckDB, side by side.

Usage: python queries.py --ward PATH --lake DIR [--runs N]

Each query runs N times with each engine, alternating, and the median counts:
- ward: the whole `ward query --format csv` process, as an analyst runs it: start,
  register the tables, plan, read, print, and record the query in the access log;
- DuckDB: `con.sql(q).fetchall()` on an open connection whose views over the same
  Parquet files (hive partitioning) exist already: no process start, no registration.
So the ratio ward/DuckDB counts ward's process start and audit write against ward.
`SELECT 1` is timed too, to show that fixed cost.
"""

import argparse
import glob
import json
import statistics
import subprocess
import time

import duckdb

TABLES = ["events", "signals", "incidents", "dead_letters", "access_log"]


def queries(con):
    """The queries, with a busy day, patient and account picked from the lake itself."""
    day = con.sql(
        "SELECT date FROM events GROUP BY date ORDER BY count(*) DESC LIMIT 1"
    ).fetchall()[0][0]
    patient = con.sql(
        "SELECT patient_id FROM events WHERE patient_id IS NOT NULL "
        "GROUP BY patient_id ORDER BY count(*) DESC, patient_id LIMIT 1"
    ).fetchall()[0][0]
    user = con.sql(
        "SELECT \"user\" FROM events WHERE class = 'ehr_activity' "
        "GROUP BY \"user\" ORDER BY count(*) DESC, \"user\" LIMIT 1"
    ).fetchall()[0][0]
    return [
        ("day summary", f"SELECT source, class, count(*) AS n FROM events WHERE date = '{day}' "
         "GROUP BY source, class ORDER BY n DESC, source, class"),
        ("network logons of a day", "SELECT \"user\", host, src_ip, count(*) AS n FROM events "
         f"WHERE date = '{day}' AND event_code = '4624' AND logon_type = 3 "
         "GROUP BY \"user\", host, src_ip ORDER BY n DESC, \"user\", host LIMIT 20"),
        ("one patient's accesses", "SELECT time, \"user\", src_host, ehr_action FROM events "
         f"WHERE patient_id = '{patient}' ORDER BY time, src_host"),
        ("one account's activity", "SELECT time, source, class, host, event_code FROM events "
         f"WHERE \"user\" = '{user}' ORDER BY time, host, event_code"),
        ("top accounts by patients", "SELECT \"user\", count(DISTINCT patient_id) AS patients "
         "FROM events WHERE class = 'ehr_activity' GROUP BY \"user\" "
         "ORDER BY patients DESC, \"user\" LIMIT 10"),
        ("database clients", "SELECT src_ip, count(*) AS n FROM events WHERE source = 'ndr' "
         "AND dst_port = 1433 GROUP BY src_ip ORDER BY n DESC, src_ip"),
        ("hourly volume of a day", "SELECT date_trunc('hour', time) AS hour, count(*) AS n "
         f"FROM events WHERE date = '{day}' GROUP BY 1 ORDER BY 1"),
        ("signals by rule on EDR", "SELECT s.rule_id, count(*) AS n FROM signals s JOIN events e "
         "ON s.event_id = e.event_id WHERE e.source = 'edr' GROUP BY s.rule_id "
         "ORDER BY n DESC, s.rule_id"),
    ]


def time_ward(ward, lake, sql):
    start = time.perf_counter()
    out = subprocess.run([ward, "query", "--lake", lake, "--format", "csv", sql],
                         check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, max(len(out.splitlines()) - 1, 0)


def time_duckdb(con, sql):
    start = time.perf_counter()
    rows = con.sql(sql).fetchall()
    return time.perf_counter() - start, len(rows)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ward", required=True)
    parser.add_argument("--lake", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    con = duckdb.connect()
    for table in TABLES:
        # DuckDB refuses a view over no files; a table the lake has not written yet
        # (no dead letters, say) is left out, as no query here reads it.
        if not glob.glob(f"{args.lake}/{table}/**/*.parquet", recursive=True):
            continue
        con.sql(f"CREATE VIEW {table} AS SELECT * FROM read_parquet("
                f"'{args.lake}/{table}/**/*.parquet', hive_partitioning = true, "
                "union_by_name = true)")
    events = con.sql("SELECT count(*) FROM events").fetchall()[0][0]
    print(f"lake: {events:,} events", flush=True)

    results = []
    for name, sql in [("SELECT 1 (fixed cost)", "SELECT 1")] + queries(con):
        ward_times, duck_times = [], []
        time_ward(args.ward, args.lake, sql)  # warm the page cache for both
        time_duckdb(con, sql)
        for _ in range(args.runs):
            seconds, ward_rows = time_ward(args.ward, args.lake, sql)
            ward_times.append(seconds)
            seconds, duck_rows = time_duckdb(con, sql)
            duck_times.append(seconds)
        if ward_rows != duck_rows:
            raise SystemExit(f"{name}: ward returned {ward_rows} rows, DuckDB {duck_rows}")
        ward_s, duck_s = statistics.median(ward_times), statistics.median(duck_times)
        results.append({"query": name, "rows": ward_rows, "ward_s": ward_s,
                        "duckdb_s": duck_s, "ratio": ward_s / duck_s})

    print(f"{'query':<28} {'rows':>7} {'ward s':>8} {'duckdb s':>9} {'ward/duckdb':>12}")
    for r in results:
        print(f"{r['query']:<28} {r['rows']:>7} {r['ward_s']:>8.3f} {r['duckdb_s']:>9.3f} "
              f"{r['ratio']:>12.2f}")
    measured = [r["ratio"] for r in results[1:]]
    print(f"geometric mean ward/duckdb over {len(measured)} queries: "
          f"{statistics.geometric_mean(measured):.2f}; worst {max(measured):.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
