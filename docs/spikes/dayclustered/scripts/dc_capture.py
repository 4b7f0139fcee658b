# ruff: noqa
# Spike measurement script (dayclustered), kept for the next session; not part of tierwise.
import json, re
from sqlalchemy import event
from sqlalchemy.engine import Engine
_seen = {}
@event.listens_for(Engine, "before_cursor_execute")
def _cap(conn, cursor, statement, params, context, executemany):
    if conn.dialect.name != "sqlite" or executemany:
        return
    if not re.search(r"\b(member_days|events)\b", statement):
        return
    if not statement.lstrip().upper().startswith(("SELECT", "WITH", "INSERT", "UPDATE", "DELETE")):
        return
    key = " ".join(statement.split())
    if key not in _seen:
        try:
            json.dumps(params)
            p = params
        except TypeError:
            p = [str(x) for x in params] if isinstance(params, (list, tuple)) else None
        _seen[key] = {"sql": statement, "params": p, "n": 0}
    _seen[key]["n"] += 1
def pytest_sessionfinish(session, exitstatus):
    json.dump(list(_seen.values()), open("/work/prof/dc_captured.json", "w"))
