# ruff: noqa
# Spike measurement script (dayclustered), kept for the next session; not part of tierwise.
import sqlite3, time, random
random.seed(3)
ids = ",".join(str(random.randint(1, 1_000_000)) for _ in range(500))
D = "WITH RECURSIVE d(day) AS (SELECT min(day) FROM member_days UNION ALL SELECT (SELECT min(day) FROM member_days WHERE day > d.day) FROM d WHERE d.day IS NOT NULL) "
Q = {"md 500 members": f"SELECT count(*), sum(events) FROM member_days WHERE member_id IN ({ids})",
     "md 500, 30 days": f"SELECT count(*), sum(events) FROM member_days WHERE member_id IN ({ids}) AND day >= '2025-06-01'",
     "ev 500 members": f"SELECT count(*), sum(length(external_id)) FROM events WHERE member_id IN ({ids})",
     "ev 500 cte": D + f"SELECT count(*), sum(length(external_id)) FROM events WHERE member_id IN ({ids}) AND substr(occurred_at,1,10) IN (SELECT day FROM d)"}
for name, uri in (("old", "file:/work/main/var/bench-kpi-1000000-10000000-365.db?immutable=1"), ("new", "file:/work/prof/dc-base.db?mode=ro")):
    c = sqlite3.connect(uri, uri=True)
    for k, q in Q.items():
        c.execute(q).fetchall()
        t = time.perf_counter(); r = c.execute(q).fetchall(); dt = time.perf_counter() - t
        print(f"{name} {k:16} {dt*1000:8.1f} ms {r}  | {' '.join(x[3] for x in c.execute('EXPLAIN QUERY PLAN '+q).fetchall() if 'member_days' in x[3] or 'events' in x[3])[:90]}")
