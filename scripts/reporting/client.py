"""Fetch the funding report the way an investor would: GraphQL over HTTP with a token.

`over_http` POSTs to a running server; `in_process` builds the app over a database,
issues itself an investor token, asks the same question through the app's ASGI
interface (the whole stack: token check, role, suppression) and revokes the token.
Expected failures raise `ReportError` with a one-line message.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import date

from domain import access
from domain.clock import utcnow
from domain.store.database import Database

QUERY = """
query Report($asOf: Date!) {
  fundingReport(asOf: $asOf) {
    asOf from to minGroupSize grossMargin
    membersTotal newMembers dau wau mau stickiness activityRate powerUserCurve
    membersByChannel { key members suppressed }
    membersByTier { key members suppressed }
    newMembersByChannel { key members suppressed }
    activityByTier { tier members active rate suppressed }
    payers payingShare nonPayingAtStart converted periodConversion
    purchasers repeaters repeatPurchaseRate funnelSteps funnel
    cohortRetention { cohortStart size rates suppressed }
    purchaseRetention { cohortStart size rates suppressed }
    retentionCurve churnWindowDays churnAtStart churnLost churnRate
    revenueMinor transactions periodActive arpuMinor aovMinor monthlyArpuMinor
    months { month members newMembers active revenueMinor transactions stickiness
             arpuMinor complete }
    cmgrMembers cmgrActive cmgrRevenue
    ltv { historical historicalAt historicalMonths predictive predictiveTotal buyers
          horizonWeeks annualDiscountRate unavailableReason
          bgnbd { r alpha a b logLikelihood } gammaGamma { p q gamma } }
    cac { channel spendMinor acquired cacMinor suppressed }
    cacBlendedMinor ltvToCac cacPaybackMonths
    campaigns { name responders attributedRevenueMinor costMinor roi suppressed }
    referralKFactor referralCohorts { cohort inviters invitations joined kFactor suppressed }
    memberContent allContent ugcShare
    daily { date active purchasers revenueMinor content }
    anomalies { date metric value mean std }
    targets { name metric baseline goal startsOn deadline current projected status }
  }
}"""

TIMEOUT_SECONDS = 120


class ReportError(Exception):
    """An expected failure of the report command: its message is the one line shown."""


def _answer(status: int, body: bytes, where: str) -> dict:
    """The fundingReport object of a GraphQL response, or a ReportError saying why not."""
    if status == 401:
        raise ReportError(f"{where} refused the token (401): use a live investor token "
                          "(`tierwise create-token --role investor`)")
    try:
        payload = json.loads(body)
    except ValueError:
        raise ReportError(f"{where} answered HTTP {status} with something that is not "
                          "JSON; is this a tierwise /graphql endpoint?") from None
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if errors:
        first = errors[0]
        code = (first.get("extensions") or {}).get("code")
        message = first.get("message", "unknown error")
        raise ReportError(f"{code}: {message}" if code else message)
    if status != 200 or not isinstance(payload, dict) or not payload.get("data"):
        raise ReportError(f"{where} answered HTTP {status} without a report")
    report = payload["data"]["fundingReport"]
    if report.get("minGroupSize") is None:
        raise ReportError("the token is not an investor token (the report came back without "
                          "small-group suppression); use `tierwise create-token --role "
                          "investor`")
    return report


def _request_body(as_of: date) -> bytes:
    return json.dumps({"query": QUERY, "variables": {"asOf": as_of.isoformat()}}).encode()


def over_http(url: str, token: str, as_of: date) -> dict:
    """POST the query to `url` (the server's base URL or its /graphql endpoint)."""
    endpoint = url.rstrip("/")
    if not endpoint.endswith("/graphql"):
        endpoint += "/graphql"
    if not endpoint.startswith(("http://", "https://")):
        raise ReportError(f"--url {url!r} is not an http(s) URL")
    request = urllib.request.Request(
        endpoint, data=_request_body(as_of), method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json",
                 "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return _answer(response.status, response.read(), endpoint)
    except urllib.error.HTTPError as error:
        return _answer(error.code, error.read(), endpoint)
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ReportError(f"cannot reach {endpoint}: {reason}") from None


async def _call_asgi(app, *, path: str, body: bytes, headers: dict[str, str]
                     ) -> tuple[int, bytes]:
    """One HTTP request through an ASGI app, in memory (no socket)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "server": ("report.local", 80),
             "client": ("127.0.0.1", 0),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    sent = False
    status, chunks = 500, []

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def in_process(database_url: str, as_of: date) -> dict:
    """Ask an in-process app over `database_url` with a token issued for this run only."""
    from api.app import create_app  # the API is only needed without --url

    db = Database(database_url)
    try:
        try:
            async with db.unit_of_work() as uow:
                token, token_id = await access.issue_token(
                    uow=uow, role=access.Role.INVESTOR, label="tierwise report (this run)",
                    now=utcnow())
        except Exception as error:  # no database, not migrated: say which
            raise ReportError(f"cannot open the database {_safe(database_url)}: "
                              f"{type(error).__name__}: {str(error).splitlines()[0]}") from None
        try:
            app = create_app(db=db, token_cache_seconds=0)
            status, body = await _call_asgi(
                app, path="/graphql", body=_request_body(as_of),
                headers={"content-type": "application/json", "accept": "application/json",
                         "authorization": f"Bearer {token}"})
            return _answer(status, body, "the in-process API")
        finally:
            async with db.unit_of_work() as uow:
                await access.revoke_token(uow=uow, token_id=token_id, actor="cli",
                                          reason="tierwise report run finished", now=utcnow())
    finally:
        await db.dispose()


def _safe(url: str) -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show it, it holds no password we could parse
        return url
