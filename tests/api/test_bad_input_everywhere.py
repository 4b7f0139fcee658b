"""Hostile but type-valid input on every mutation and every query with arguments.

The cases are generated from the schema itself (so a new field is covered the day it is
added): a plausible baseline input, then one hostile value at a time in each argument or
input field (unknown, malformed and foreign ids; 0, -1 and 2**31 - 1; empty, 10,000
character, NUL and emoji strings; year 1 and year 9999; `from` after `to`; empty and
1,000-item lists; +/-1e308; every enum value; null where null is allowed; `first` 0, -1
and 101). Whatever comes in, the answer must be HTTP 200 with either a coded or GraphQL
validation error, or a payload whose userErrors each carry a code, a message, and a
`field` naming an input field: never the masked "Unexpected error." of a bug.

Generation is seeded by the field name, and capped per field, so a failure names the
field and reproduces exactly.
"""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    Undefined,
    get_named_type,
)

from api.jobs import SimulationJobs
from api.relay import to_global_id
from api.schema import schema
from api.types.scalars import MAX_SAFE
from domain.access import Role

GRAPHQL = schema._schema
# Per field and backend, the baseline and from-after-to cases included: enough for every
# one-value change of all but the largest inputs (1,387 cases over 59 fields, ~20 s).
MAX_CASES = 64
LOW_ROLE_CASES = 3  # of those, also posted as an investor
MASKED = ("Unexpected error", "Internal Server Error", "Traceback", "unexpected")
SELECTION_DEPTH = 3

# Which object an id argument names, when its name says so.
ID_TYPES = {
    "memberId": "Member", "memberIds": "Member", "survivorId": "Member",
    "mergedId": "Member", "inviteeMemberId": "Member", "inviterId": "Member",
    "tierId": "Tier", "tierIds": "Tier", "targetTierIds": "Tier",
    "campaignId": "Campaign", "benefitId": "Benefit", "entryId": "PointsEntry",
    "mergeId": "MemberMerge", "modelId": "TierModel",
}
# For an argument called just `id`: the object its field's name mentions.
FIELD_ID_TYPES = (("simulation", "SimulationRun"), ("tiermodel", "TierModel"),
                  ("referral", "Referral"), ("benefit", "Benefit"), ("badge", "Badge"),
                  ("campaign", "Campaign"), ("tier", "Tier"), ("kpi", "KpiTarget"))
# Pairs of inputs where the first must not come after the second.
RANGES = (("from", "to"), ("startsAt", "endsAt"), ("startsOn", "deadline"),
          ("joinedFrom", "joinedTo"), ("since", "asOf"))

DATES = ("0001-01-01", "9999-12-31")
DATETIMES = ("0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00",
             "2026-01-15T08:00:00")  # the last one has no offset
STRINGS = ("", "x" * 10_000, "nul\x00byte", "emoji \U0001f600\U0001f389")
INTS = (0, -1, 2**31 - 1, -(2**31))
FLOATS = (0.0, -1.0, 1e308, -1e308)


@dataclass(frozen=True)
class Case:
    label: str
    args: dict


def _fields() -> list[tuple[str, str]]:
    found = [("Mutation", name) for name in GRAPHQL.mutation_type.fields]
    found += [("Query", name) for name, field in GRAPHQL.query_type.fields.items()
              if field.args]
    return found


FIELDS = _fields()


# --- values -----------------------------------------------------------------------------

def _id_type(arg: str, field: str) -> str:
    if arg in ID_TYPES:
        return ID_TYPES[arg]
    lowered = field.lower()
    return next((t for word, t in FIELD_ID_TYPES if word in lowered), "Member")


def _random_base64(rng: random.Random) -> str:
    return base64.urlsafe_b64encode(rng.randbytes(rng.randint(1, 24))).decode().rstrip("=")


def _scalar_baseline(named, arg: str, field: str):
    if isinstance(named, GraphQLEnumType):
        return next(iter(named.values))
    match named.name:
        case "ID":
            return to_global_id(_id_type(arg, field), 1)
        case "Int":
            return 5 if arg == "first" else 1
        case "Float":
            return 0.5
        case "String":
            return f"fuzz-{arg}"
        case "Boolean":
            return False
        case "Date":
            return "2026-01-15"
        case "DateTime":
            return "2026-01-15T08:00:00+00:00"
        case "MinorUnits":
            return 100
        case "JSON":
            return {}
    raise AssertionError(f"no baseline for scalar {named.name}")


def _scalar_hostile(named, arg: str, field: str, rng: random.Random) -> list:
    if isinstance(named, GraphQLEnumType):
        return list(named.values)
    match named.name:
        case "ID":
            kind = _id_type(arg, field)
            other = "Badge" if kind != "Badge" else "Member"
            return [to_global_id(kind, 987_654), to_global_id(kind, 2**40),
                    to_global_id(other, 1), _random_base64(rng), "",
                    base64.urlsafe_b64encode(f"{kind}:-3".encode()).decode()]
        case "Int":
            return [0, 101, -1] if arg == "first" else list(INTS)
        case "Float":
            return list(FLOATS)
        case "String":
            return list(STRINGS)
        case "Boolean":
            return [True, False]
        case "Date":
            return list(DATES)
        case "DateTime":
            return list(DATETIMES)
        case "MinorUnits":
            return [0, -1, MAX_SAFE, -MAX_SAFE]
        case "JSON":
            return [[], "x", 1e308, {"k": "x" * 10_000}, [0] * 1000, {"horizonDays": -1}]
    raise AssertionError(f"no hostile values for scalar {named.name}")


def _baseline(type_, arg: str, field: str):
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        return [_baseline(type_.of_type, arg, field)]
    if isinstance(type_, GraphQLInputObjectType):
        return {name: _baseline(f.type, name, field) for name, f in type_.fields.items()}
    return _scalar_baseline(type_, arg, field)


def _positions(type_, path: tuple, arg: str, field: str,
               rng: random.Random) -> Iterator[tuple[tuple, object]]:
    """(path, hostile value) for every place in an argument of type `type_`."""
    nullable = not isinstance(type_, GraphQLNonNull)
    if not nullable:
        type_ = type_.of_type
    if nullable:
        yield path, None
    if isinstance(type_, GraphQLList):
        element = _baseline(type_.of_type, arg, field)
        yield path, []
        yield path, [element] * 1000
        yield from _positions(type_.of_type, (*path, 0), arg, field, rng)
    elif isinstance(type_, GraphQLInputObjectType):
        for name, f in type_.fields.items():
            yield from _positions(f.type, (*path, name), name, field, rng)
    else:
        for value in _scalar_hostile(type_, arg, field, rng):
            yield path, value


def _replace(value, path: tuple, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        return [_replace(v, rest, new) if i == head else v for i, v in enumerate(value)]
    return {**value, head: _replace(value[head], rest, new)}


def _ranges(args: dict) -> Iterator[tuple[str, dict]]:
    """The baseline with each from/to pair reversed (at any depth)."""
    def walk(value, path):
        if isinstance(value, dict):
            for low, high in RANGES:
                if low in value and high in value and isinstance(value[low], str):
                    date_only = len(value[low]) == 10
                    late, early = (DATES if date_only else DATETIMES[:2])[::-1]
                    yield path, {**value, low: late, high: early}
            for key, inner in value.items():
                yield from walk(inner, (*path, key))
        elif isinstance(value, list) and value:
            yield from walk(value[0], (*path, 0))
    for path, reversed_ in walk(args, ()):
        yield ".".join(map(str, path)) or "args", _replace(args, path, reversed_)


def cases(root: str, field: str) -> list[Case]:
    """The baseline, every reversed range, and a seeded sample of one-value changes."""
    rng = random.Random(f"{root}.{field}")
    definition = GRAPHQL.get_type(root).fields[field]
    baseline = {name: _baseline(a.type, name, field) for name, a in definition.args.items()}
    fixed = [Case("baseline", baseline)]
    fixed += [Case(f"{where}: from after to", args) for where, args in _ranges(baseline)]
    changes = []
    for name, a in definition.args.items():
        for path, value in _positions(a.type, (name,), name, field, rng):
            label = f"{'.'.join(map(str, path))} = {_short(value)}"
            changes.append(Case(label, _replace(baseline, path, value)))
    rng.shuffle(changes)
    return fixed + changes[:MAX_CASES - len(fixed)]


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}...({len(text)} chars)"


# --- documents ------------------------------------------------------------------------------

def _type_ref(type_) -> str:
    if isinstance(type_, GraphQLNonNull):
        return f"{_type_ref(type_.of_type)}!"
    if isinstance(type_, GraphQLList):
        return f"[{_type_ref(type_.of_type)}]"
    return type_.name


def _is_leaf(type_) -> bool:
    return isinstance(get_named_type(type_), (GraphQLScalarType, GraphQLEnumType))


def _selection(type_, depth: int) -> str:
    """Every field reachable within `depth` levels (scalars only at the last level)."""
    named = get_named_type(type_)
    if isinstance(named, (GraphQLInterfaceType, GraphQLUnionType)):
        # Fragments on the possible types: scalars only, and a name only where every
        # type gives it the same type (fragments with conflicting fields do not validate).
        seen: dict[str, str] = {}
        for concrete in GRAPHQL.get_possible_types(named):
            for name, f in concrete.fields.items():
                if _is_leaf(f.type) and not f.args:
                    seen.setdefault(name, str(f.type))
        parts = ["__typename"]
        for concrete in GRAPHQL.get_possible_types(named):
            names = [n for n, f in concrete.fields.items()
                     if _is_leaf(f.type) and not f.args and seen[n] == str(f.type)]
            parts.append(f"... on {concrete.name} {{ {' '.join(names) or '__typename'} }}")
        return "{ " + " ".join(parts) + " }"
    assert isinstance(named, GraphQLObjectType)
    parts = ["__typename"]
    for name, f in named.fields.items():
        if any(isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined
               for a in f.args.values()):
            continue
        if _is_leaf(f.type):
            parts.append(name)
        elif name == "userErrors":
            parts.append(f"{name} {_selection(f.type, 1)}")
        elif depth > 1:
            parts.append(f"{name} {_selection(f.type, depth - 1)}")
    return "{ " + " ".join(parts) + " }"


def document(root: str, field: str) -> str:
    definition = GRAPHQL.get_type(root).fields[field]
    variables = ", ".join(f"${n}: {_type_ref(a.type)}" for n, a in definition.args.items())
    passed = ", ".join(f"{n}: ${n}" for n in definition.args)
    operation = "mutation" if root == "Mutation" else "query"
    selection = _selection(definition.type, SELECTION_DEPTH)
    if not definition.args:
        return f"{operation} {{ {field} {selection} }}"
    return f"{operation}({variables}) {{ {field}({passed}) {selection} }}"


# --- checks ---------------------------------------------------------------------------------

def _input_field_names(type_, path: list[str]) -> bool:
    """Does `path` (numbers dropped) name a field inside the input type `type_`?"""
    named = get_named_type(type_)
    if not path:
        return True
    if isinstance(named, GraphQLScalarType) and named.name == "JSON":
        return True  # inside a JSON document: any path
    if not isinstance(named, GraphQLInputObjectType) or path[0] not in named.fields:
        return False
    return _input_field_names(named.fields[path[0]].type, path[1:])


def _names_an_input_field(definition, field_path: str) -> bool:
    """From the arguments, or (mutations) from their single `input` object: `modelId`,
    `model.graceDays`, `input.3.externalId` for a list of inputs."""
    parts = [p for p in field_path.split(".") if not p.isdigit()]
    if parts and parts[0] in definition.args:
        return _input_field_names(definition.args[parts[0]].type, parts[1:])
    return "input" in definition.args and _input_field_names(definition.args["input"].type,
                                                             parts)


def _user_errors(value) -> Iterator[dict]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "userErrors" and isinstance(inner, list):
                yield from inner
            else:
                yield from _user_errors(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _user_errors(inner)


def problems(root: str, field: str, status: int, body) -> list[str]:
    """What is wrong with one answer (empty when it is a proper answer to bad input)."""
    if status != 200:
        return [f"HTTP {status}"]
    if not isinstance(body, dict) or not ({"data", "errors"} & body.keys()):
        return [f"not a GraphQL answer: {str(body)[:200]}"]
    found = []
    for error in body.get("errors") or []:
        message = str(error.get("message", ""))
        code = (error.get("extensions") or {}).get("code")
        if code == "INTERNAL_ERROR" or any(m in message for m in MASKED):
            found.append(f"internal error: {message[:200]} {error.get('extensions')}")
        elif not message:
            found.append(f"error without a message: {error}")
    definition = GRAPHQL.get_type(root).fields[field]
    for user_error in _user_errors((body.get("data") or {}).get(field)):
        if not user_error.get("code") or not user_error.get("message"):
            found.append(f"userError without code or message: {user_error}")
        where = user_error.get("field")
        if where is not None and not _names_an_input_field(definition, where):
            found.append(f"userError field {where!r} names no input field: {user_error}")
    return found


# --- the test -------------------------------------------------------------------------------

SEED = """
mutation($t1: CreateTierInput!, $t2: CreateTierInput!, $m1: CreateMemberInput!,
         $m2: CreateMemberInput!, $c: CreateCampaignInput!, $b: CreateBenefitInput!) {
  t1: createTier(input: $t1) { userErrors { code message } }
  t2: createTier(input: $t2) { userErrors { code message } }
  m1: createMember(input: $m1) { userErrors { code message } }
  m2: createMember(input: $m2) { userErrors { code message } }
  c: createCampaign(input: $c) { userErrors { code message } }
  b: createBenefit(input: $b) { userErrors { code message } }
}"""


def _tier(n: int) -> dict:
    return {"key": f"seed-{n}", "name": f"Seed {n}", "rank": n, "description": "",
            "benefits": [], "touchStrategy": {"channel": "WECHAT", "everyDays": 7,
                                              "content": "hi"}}


def _member(n: int) -> dict:
    return {"displayName": f"Seed {n}", "channel": "WECHAT",
            "joinedAt": "2025-12-01T00:00:00+00:00",
            "identities": [{"channel": "WECHAT", "externalId": f"seed-{n}"}]}


async def _seed(api) -> None:
    """Two tiers, two members, a campaign and a benefit: pk 1 of each exists."""
    data = await api.data(SEED, {
        "t1": _tier(1), "t2": _tier(2), "m1": _member(1), "m2": _member(2),
        "c": {"name": "Seed", "kind": "COUPON", "budgetMinor": 1000, "currency": "CNY",
              "targetTierIds": [], "targetChannels": ["WECHAT"]},
        "b": {"name": "Seed", "costPoints": 10, "active": True},
    })
    errors = {k: p["userErrors"] for k, p in data.items() if p["userErrors"]}
    assert not errors, errors


@pytest.fixture
def no_simulation_workers(monkeypatch):
    """Runs a case queues stay queued: this test is about input, not about workers."""
    monkeypatch.setattr(SimulationJobs, "submit", lambda self, run_id: None)


@pytest.mark.parametrize(("root", "field"), FIELDS, ids=[f"{r}.{f}" for r, f in FIELDS])
async def test_bad_input_gets_a_clear_answer(api, root, field, no_simulation_workers):
    await _seed(api)
    query = document(root, field)
    failures = []
    for number, case in enumerate(cases(root, field)):
        roles = [Role.ADMIN] + ([Role.INVESTOR] if number < LOW_ROLE_CASES else [])
        for role in roles:
            response = await asyncio.wait_for(
                api.post(query, case.args, role=role), timeout=30)
            try:
                body = response.json()
            except ValueError:
                body = response.text
            for problem in problems(root, field, response.status_code, body):
                failures.append(f"[{case.label}] as {role}: {problem}")
    assert not failures, f"{field}: {len(failures)} bad answers:\n" + "\n".join(failures)


# --- the test can fail ------------------------------------------------------------------------

def test_the_checks_reject_a_masked_error_and_a_bad_user_error():
    masked = {"data": None, "errors": [{"message": "Unexpected error.",
                                        "extensions": {"code": "INTERNAL_ERROR"}}]}
    assert problems("Mutation", "createTier", 200, masked)
    assert problems("Mutation", "createTier", 500, "Internal Server Error")
    no_code = {"data": {"createTier": {"userErrors": [{"field": None, "message": "x",
                                                       "code": None}]}}}
    assert problems("Mutation", "createTier", 200, no_code)
    wrong_field = {"data": {"createTier": {"userErrors": [
        {"field": "input.shoeSize", "message": "x", "code": "INVALID_VALUE"}]}}}
    assert problems("Mutation", "createTier", 200, wrong_field)
    fine = {"data": {"createTier": {"userErrors": [
        {"field": "input.touchStrategy.everyDays", "message": "x", "code": "INVALID_VALUE"},
        {"field": "key", "message": "x", "code": "DUPLICATE_KEY"}]}}}
    assert problems("Mutation", "createTier", 200, fine) == []


def test_every_field_gets_cases_and_a_document_that_validates():
    from graphql import parse, validate

    assert len(FIELDS) > 50
    for root, field in FIELDS:
        assert validate(GRAPHQL, parse(document(root, field))) == [], field
        generated = cases(root, field)
        assert 1 <= len(generated) <= MAX_CASES
        assert generated == cases(root, field)  # seeded: the same every run
