# ruff: noqa
# Spike measurement script (dayclustered), kept for the next session; not part of tierwise.
"""EXPLAIN QUERY PLAN of every captured statement touching member_days/events, on main's
layout (bench cache, immutable) and on the day-clustered copy (with and without stats)."""
import json, re, sqlite3, sys
OLD = "file:/work/main/var/bench-kpi-1000000-10000000-365.db?immutable=1"
NEW = "/work/prof/dc-base.db"
caps = json.load(open("/work/prof/dc_captured.json"))

def plan(conn, sql, params):
    try:
        rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params or ()).fetchall()
    except Exception as e:
        return f"ERR {e}"
    return " | ".join(r[3] for r in rows)

def full(p):
    return [m for m in re.findall(r"SCAN (member_days|events)\b[^|]*", p)]

old = sqlite3.connect(OLD, uri=True)
new = sqlite3.connect(NEW, isolation_level=None)
out = []
for c in caps:
    sql, params = c["sql"], c["params"]
    if isinstance(params, dict) or params is None: params = params or ()
    po = plan(old, sql, params)
    pn = plan(new, sql, params)
    out.append(dict(sql=sql, n=c["n"], old=po, new=pn))
new.execute("BEGIN")
new.execute("DELETE FROM sqlite_stat1 WHERE tbl IN ('member_days','events')")
new.execute("ANALYZE sqlite_schema")
for o in out:
    o["new_nostat"] = plan(new, o["sql"], [c for c in caps if c["sql"] == o["sql"]][0]["params"] or ())
new.execute("ROLLBACK")
json.dump(out, open("/work/prof/dc_plans.json", "w"), indent=1)
reg = 0
for o in out:
    fo, fn, fs = full(o["old"]), full(o["new"]), full(o["new_nostat"])
    if len(fn) > len(fo) or len(fs) > len(fo) or o["new"].startswith("ERR"):
        reg += 1
        print("=" * 100)
        print(" ".join(o["sql"].split())[:700])
        print("  OLD      :", o["old"][:600])
        print("  NEW stat :", o["new"][:600])
        print("  NEW nostat:", o["new_nostat"][:600])
print(f"{len(out)} statements, {reg} with more full scans of member_days/events", file=sys.stderr)
