# ruff: noqa
# Spike measurement script (ingest-floor), kept as it was run; not part of tierwise.
"""Prototype of a columnar KPI refresh's hot path (new events appended on days >= each
member's last active day) on a copy of the post-import snapshot; compares its results
with the row-based refresh's (run.db left by rt.py)."""
import os, shutil, sqlite3, sys, time
import numpy as np

SNAP, RUN = "/work/prof/refresh2/snap.db", "/work/prof/refresh2/run.db"
COPY = "/work/prof/col/hot.db"
EPOCH = np.datetime64("1970-01-01", "D")
F = [("first_active", "i4"), ("last_active", "i4"), ("active_days", "i4"),
     ("first_purchase", "i4"), ("last_purchase", "i4"), ("purchase_days", "i4"),
     ("revenue", "i8"), ("first_purchase_revenue", "i8"), ("joined_on", "i4"), ("tier", "i4"),
     ("d1", "i1"), ("d7", "i1"), ("d30", "i1"), ("prior30", "i1"),
     ("m_active", "i1"), ("m_purchase", "i1"), ("m_revenue", "i8")]
DT = np.dtype(F)
B = 1024
NONE = -1  # no day


def days(strings):
    a = np.array(strings, dtype="datetime64[D]")
    return np.where(np.isnat(a), NONE, (a - EPOCH).astype(np.int64)).astype(np.int32)


def month_of(d):  # day ordinal -> first day of its month, as day ordinal
    m = (EPOCH + d.astype("timedelta64[D]")).astype("datetime64[M]")
    return (m.astype("datetime64[D]") - EPOCH).astype(np.int32)


def setup():
    for ext in ("", "-wal", "-shm"):
        if os.path.exists(COPY + ext): os.remove(COPY + ext)
    shutil.copyfile(SNAP, COPY)
    c = sqlite3.connect(COPY, isolation_level=None)
    top = c.execute("select max(id) from members").fetchone()[0]
    n = ((top + B) // B) * B
    s = np.zeros(n, dtype=DT)
    for name in ("first_active", "last_active", "first_purchase", "last_purchase", "joined_on"):
        s[name] = NONE
    rows = c.execute("select member_id, first_active, last_active, active_days, first_purchase,"
                     " last_purchase, purchase_days, revenue_minor, first_purchase_revenue_minor,"
                     " joined_on from kpi_member_summary").fetchall()
    ids = np.array([r[0] for r in rows])
    for j, name in enumerate(("first_active", "last_active")):
        s[name][ids] = days([r[1 + j] for r in rows])
    s["active_days"][ids] = [r[3] for r in rows]
    s["first_purchase"][ids] = days([r[4] for r in rows])
    s["last_purchase"][ids] = days([r[5] for r in rows])
    s["purchase_days"][ids] = [r[6] for r in rows]
    s["revenue"][ids] = [r[7] for r in rows]
    s["first_purchase_revenue"][ids] = [r[8] for r in rows]
    s["joined_on"][ids] = days([r[9] for r in rows])
    rows = c.execute("select member_id, d1, d7, d30, prior30, coalesce(tier_id, 0) from kpi_member_trailing").fetchall()
    ids = np.array([r[0] for r in rows])
    for j, name in enumerate(("d1", "d7", "d30", "prior30", "tier")):
        s[name][ids] = [r[1 + j] for r in rows]
    # members without a trailing row: their current tier
    rows = c.execute("select id, coalesce(tier_id, 0) from members").fetchall()
    has = np.zeros(n, bool); has[ids] = True
    mids = np.array([r[0] for r in rows]); tiers = np.array([r[1] for r in rows])
    s["tier"][mids[~has[mids]]] = tiers[~has[mids]]
    latest = c.execute("select latest_day from kpi_state").fetchone()[0]
    month = latest[:8] + "01"
    rows = c.execute("select member_id, active_days, purchase_days, revenue_minor from kpi_member_months where month = ?", (month,)).fetchall()
    ids = np.array([r[0] for r in rows])
    s["m_active"][ids] = [r[1] for r in rows]; s["m_purchase"][ids] = [r[2] for r in rows]
    s["m_revenue"][ids] = [r[3] for r in rows]
    c.execute("create table kpi_member_blocks (block integer primary key, data blob not null)")
    c.execute("begin")
    c.executemany("insert into kpi_member_blocks values (?, ?)",
                  ((b, s[b * B:(b + 1) * B].tobytes()) for b in range(n // B)))
    c.execute("commit"); c.execute("pragma wal_checkpoint(truncate)"); c.close()
    os.sync()
    return n


def hot(n):
    c = sqlite3.connect(COPY, isolation_level=None)
    T = {}
    t0 = time.perf_counter()
    c.execute("begin immediate")
    wm, latest = c.execute("select events_watermark, latest_day from kpi_state").fetchone()
    anchor = days([latest])[0]
    ev = c.execute("select member_id, substr(occurred_at, 1, 10), type, coalesce(amount_minor, 0)"
                   " from events where id > ?", (wm,)).fetchall()
    T["fetch events"] = time.perf_counter() - t0
    t = time.perf_counter()
    member = np.fromiter((r[0] for r in ev), np.int64, len(ev))
    uday, dinv = np.unique(np.array([r[1] for r in ev]), return_inverse=True)
    day = days(uday)[dinv]
    types = np.array([r[2] for r in ev])
    amount = np.fromiter((r[3] for r in ev), np.int64, len(ev))
    purchase = types == "purchase"
    key = member * 100_000 + day
    cells, inv = np.unique(key, return_inverse=True)
    cm, cd = cells // 100_000, (cells % 100_000).astype(np.int32)
    c_events = np.bincount(inv, minlength=len(cells))
    c_purch = np.bincount(inv, weights=purchase, minlength=len(cells)).astype(np.int64)
    c_rev = np.bincount(inv, weights=amount, minlength=len(cells)).astype(np.int64)
    T["numpy cells"] = time.perf_counter() - t
    t = time.perf_counter()
    rows = c.execute("select data from kpi_member_blocks order by block").fetchall()
    s = np.frombuffer(b"".join(r[0] for r in rows), dtype=DT).copy()
    T["read blocks"] = time.perf_counter() - t
    t = time.perf_counter()
    before = s[cm]
    append = cd >= before["last_active"]  # every cell on/after the member's last day
    assert append.all(), "cold path needed"
    new_cell = cd != before["last_active"]
    new_p = (c_purch > 0) & (cd != before["last_purchase"])
    assert not (new_p & ~new_cell).any() or True
    # members (one cell each here; general: group cells by member)
    um, minv = np.unique(cm, return_inverse=True)
    assert len(um) == len(cm), "one cell per member in this prototype"
    b = s[um].copy(); a = b.copy()
    fresh = b["last_active"] == NONE
    a["first_active"] = np.where(fresh, cd, np.minimum(b["first_active"], cd))
    a["last_active"] = np.maximum(b["last_active"], cd)
    a["active_days"] += new_cell
    bought = c_purch > 0
    a["first_purchase"] = np.where(bought & (b["first_purchase"] == NONE), cd, b["first_purchase"])
    a["last_purchase"] = np.where(bought, np.maximum(b["last_purchase"], cd), b["last_purchase"])
    a["purchase_days"] += new_p
    # purchase-day revenue: a new purchase day brings the cell's whole revenue (before = 0
    # unless the cell existed with non-purchase revenue: not in this data, checked below)
    a["revenue"] += np.where(bought, c_rev, 0)
    a["first_purchase_revenue"] = np.where(bought & (b["first_purchase"] == NONE), c_rev, b["first_purchase_revenue"])
    month = month_of(cd); cur = month_of(np.array([anchor]))[0]
    in_month = month == cur
    on_anchor = new_cell & (cd == anchor)
    a["d1"] += on_anchor; a["d7"] += on_anchor; a["d30"] += on_anchor
    a["m_active"] += np.where(in_month, new_cell, 0)
    a["m_purchase"] += np.where(in_month, new_p, 0)
    a["m_revenue"] += np.where(in_month, c_rev, 0)
    s[um] = a
    # cohort cells
    cohort = month_of(np.where(fresh, cd, b["first_active"]))
    act_new = (b["m_active"] == 0) & new_cell
    ck, cinv = np.unique(cohort * 100_000 + month, return_inverse=True)
    act_members = np.bincount(cinv, weights=act_new).astype(np.int64)
    act_rev = np.bincount(cinv, weights=c_rev).astype(np.int64)
    buyer = a["first_purchase"] != NONE
    bcoh = month_of(np.where(buyer, a["first_purchase"], cd))
    p_new = (b["m_purchase"] == 0) & (a["m_purchase"] > 0)
    p_rev = np.where(b["m_purchase"] > 0, c_rev, np.where(a["m_purchase"] > 0, b["m_revenue"] + c_rev, 0))
    pk, pinv = np.unique((bcoh * 100_000 + month)[buyer], return_inverse=True)
    pur_members = np.bincount(pinv, weights=p_new[buyer]).astype(np.int64)
    pur_rev = np.bincount(pinv, weights=p_rev[buyer]).astype(np.int64)
    # trailing counts
    def tkey(x):
        return ((x["tier"].astype(np.int64) * 64 + x["d30"]) * 2 + (x["d7"] > 0)) * 4 + (x["d1"] > 0) * 2 + (x["prior30"] > 0)
    had = (b["d30"] > 0) | (b["prior30"] > 0)
    kb, nb = np.unique(tkey(b)[had], return_counts=True)
    ka, na = np.unique(tkey(a), return_counts=True)
    # day totals
    dk, dinv2 = np.unique(cd, return_inverse=True)
    day_active = np.bincount(dinv2, weights=new_cell).astype(np.int64)
    T["numpy update"] = time.perf_counter() - t
    t = time.perf_counter()
    blocks = np.unique(um // B)
    c.executemany("update kpi_member_blocks set data = ? where block = ?",
                  ((s[int(k) * B:(int(k) + 1) * B].tobytes(), int(k)) for k in blocks))
    T["write blocks"] = time.perf_counter() - t
    t = time.perf_counter()
    iso = lambda d: str(EPOCH + np.timedelta64(int(d), "D"))
    c.executemany("insert into kpi_cohort_months values ('activity', ?, ?, ?, ?) on conflict do update set members = members + excluded.members, revenue_minor = revenue_minor + excluded.revenue_minor",
                  [(iso(k // 100_000), iso(k % 100_000), int(m), int(r)) for k, m, r in zip(ck, act_members, act_rev)])
    c.executemany("insert into kpi_cohort_months values ('purchase', ?, ?, ?, ?) on conflict do update set members = members + excluded.members, revenue_minor = revenue_minor + excluded.revenue_minor",
                  [(iso(k // 100_000), iso(k % 100_000), int(m), int(r)) for k, m, r in zip(pk, pur_members, pur_rev)])
    c.execute("update kpi_state set events_watermark = (select max(id) from events)")
    T["small tables"] = time.perf_counter() - t
    if os.environ.get("MONTHS"):  # keep kpi_member_months as a row table too
        t = time.perf_counter()
        c.executemany("insert into kpi_member_months values (?, ?, ?, ?, ?) on conflict do update set"
                      " active_days = active_days + excluded.active_days, purchase_days ="
                      " purchase_days + excluded.purchase_days, revenue_minor = revenue_minor +"
                      " excluded.revenue_minor",
                      zip(um.tolist(), [iso(m) for m in month.tolist()], new_cell.astype(int).tolist(),
                          new_p.astype(int).tolist(), c_rev.tolist()))
        T["member months rows"] = time.perf_counter() - t
    t = time.perf_counter()
    c.execute("commit")
    T["commit"] = time.perf_counter() - t
    total = time.perf_counter() - t0
    print(f"hot path {total:.3f} s, {len(ev)} events, {len(um)} members, blocks {len(blocks)}: "
          + ", ".join(f"{k} {v:.3f}" for k, v in T.items()))
    c.close()
    return s, um


def compare(s, um):
    c = sqlite3.connect(RUN)
    rows = c.execute("select member_id, first_active, last_active, active_days, first_purchase, last_purchase,"
                     " purchase_days, revenue_minor, first_purchase_revenue_minor from kpi_member_summary").fetchall()
    ids = np.array([r[0] for r in rows])
    bad = 0
    for j, name in enumerate(("first_active", "last_active")):
        bad += (s[name][ids] != days([r[1 + j] for r in rows])).sum()
    bad += (s["active_days"][ids] != np.array([r[3] for r in rows])).sum()
    bad += (s["first_purchase"][ids] != days([r[4] for r in rows])).sum()
    bad += (s["last_purchase"][ids] != days([r[5] for r in rows])).sum()
    bad += (s["purchase_days"][ids] != np.array([r[6] for r in rows])).sum()
    bad += (s["revenue"][ids] != np.array([r[7] for r in rows])).sum()
    bad += (s["first_purchase_revenue"][ids] != np.array([r[8] for r in rows])).sum()
    print("summary mismatches:", bad, "of", len(rows))
    rows = c.execute("select member_id, d1, d7, d30, prior30 from kpi_member_trailing").fetchall()
    ids = np.array([r[0] for r in rows]); bad = 0
    for j, name in enumerate(("d1", "d7", "d30", "prior30")):
        bad += (s[name][ids] != np.array([r[1 + j] for r in rows])).sum()
    print("trailing mismatches:", bad, "of", len(rows))
    mine = dict(((b, co, m), (n, r)) for b, co, m, n, r in sqlite3.connect(COPY).execute("select * from kpi_cohort_months"))
    theirs = dict(((b, co, m), (n, r)) for b, co, m, n, r in c.execute("select * from kpi_cohort_months where members <> 0"))
    mine = {k: v for k, v in mine.items() if v[0] != 0}
    print("cohort cells equal:", mine == theirs, len(mine), len(theirs),
          [(k, mine.get(k), theirs.get(k)) for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k)][:5])


if __name__ == "__main__":
    t = time.perf_counter(); n = setup(); print(f"setup {time.perf_counter() - t:.1f} s")
    for i in range(int(sys.argv[1]) if len(sys.argv) > 1 else 1):
        if i: n = setup()
        s, um = hot(n)
    compare(s, um)


def diagnose():
    import sqlite3
    r = sqlite3.connect(RUN); h = sqlite3.connect(COPY)
    blob = b"".join(x[0] for x in h.execute("select data from kpi_member_blocks order by block"))
    s = np.frombuffer(blob, dtype=DT)
    rows = r.execute("select member_id, first_active, last_active, active_days, first_purchase, last_purchase,"
                     " purchase_days, revenue_minor, first_purchase_revenue_minor from kpi_member_summary").fetchall()
    shown = 0
    for row in rows:
        m = row[0]; x = s[m]
        mine = (x["active_days"], x["purchase_days"], int(x["revenue"]), int(x["first_purchase_revenue"]))
        if mine != (row[3], row[6], row[7], row[8]) or days([row[1]])[0] != x["first_active"] or days([row[4]])[0] != x["first_purchase"]:
            print(row, mine, x["first_active"], x["first_purchase"], x["last_active"]); shown += 1
            if shown > 4: break
