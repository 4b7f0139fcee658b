# ruff: noqa
# Spike measurement script (dayclustered), kept for the next session; not part of tierwise.
import sqlite3, time, sys
D = "WITH RECURSIVE d(day) AS (SELECT min(day) FROM member_days UNION ALL SELECT (SELECT min(day) FROM member_days WHERE day > d.day) FROM d WHERE d.day IS NOT NULL) "
ids = "(12345, 234567, 777777)"
Q = {
 "md plain": f"SELECT count(*), sum(events) FROM member_days WHERE member_id IN {ids}",
 "md cte": D + f"SELECT count(*), sum(events) FROM member_days WHERE member_id IN {ids} AND day IN (SELECT day FROM d)",
 "ev plain": f"SELECT count(*), sum(length(external_id)) FROM events WHERE member_id IN {ids}",
 "ev cte": D + f"SELECT count(*), sum(length(external_id)) FROM events WHERE member_id IN {ids} AND substr(occurred_at,1,10) IN (SELECT day FROM d)",
}
for name, uri in (("old", "file:/work/main/var/bench-kpi-1000000-10000000-365.db?immutable=1"), ("new", "file:/work/prof/dc-base.db?mode=ro")):
    for stats in (True, False):
        if name == "old" and not stats: continue
        c = sqlite3.connect(uri, uri=True)
        if not stats:
            c.close(); c = sqlite3.connect("/work/prof/dc-base.db", isolation_level=None)
            c.execute("BEGIN"); c.execute("DELETE FROM sqlite_stat1 WHERE tbl IN ('member_days','events')"); c.execute("ANALYZE sqlite_schema")
        for k, q in Q.items():
            c.execute(q).fetchall()  # warm
            t = time.perf_counter(); r = c.execute(q).fetchall(); dt = time.perf_counter() - t
            print(f"{name:3} stats={stats!s:5} {k:9} {dt*1000:9.1f} ms {r}")
        if not stats: c.execute("ROLLBACK")
        c.close()
