"""Reads one Parquet file with pyarrow and with DuckDB, as another engine would, and
prints what each got as JSON: {"pyarrow": {"rows": N} or {"error": "..."}, "duckdb": ...}.

With a second argument, the lake key as hex, DuckDB reads with that key (uniformly
encrypted files, footer key only); pyarrow is tried without it either way, since its
decryption needs a key-management service.

Usage: python read_parquet.py FILE [KEY_HEX]
"""

import base64
import json
import sys

import duckdb
import pyarrow.parquet as pq


def main() -> None:
    path = sys.argv[1]
    key = sys.argv[2] if len(sys.argv) > 2 else None
    result = {}

    try:
        result["pyarrow"] = {"rows": pq.read_table(path).num_rows}
    except Exception as err:  # any failure to read is the answer
        result["pyarrow"] = {"error": str(err)[:300] or type(err).__name__}

    connection = duckdb.connect()
    try:
        if key is None:
            sql = "SELECT count(*) FROM read_parquet(?)"
        else:
            secret = base64.b64encode(bytes.fromhex(key)).decode()
            connection.execute(f"PRAGMA add_parquet_key('ward', '{secret}')")
            sql = "SELECT count(*) FROM read_parquet(?, encryption_config = {footer_key: 'ward'})"
        result["duckdb"] = {"rows": connection.execute(sql, [path]).fetchall()[0][0]}
    except Exception as err:
        result["duckdb"] = {"error": str(err)[:300] or type(err).__name__}

    print(json.dumps(result))


if __name__ == "__main__":
    main()
