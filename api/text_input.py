"""Text the database cannot store is refused before any resolver runs.

PostgreSQL text and jsonb cannot hold the NUL character (SQLite can), so a NUL in any
string argument, input field or JSON value used to reach the database and fail there
(a masked "Unexpected error." on PostgreSQL, a stored value on SQLite). Every root field
with arguments gets `RejectNulCharacters`: a mutation answers with an INVALID_VALUE
userError naming the input field, a query with an INVALID_VALUE error; nothing runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.types.base import StrawberryList, StrawberryOptional, has_object_definition
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from domain.errors import InvalidValue

NUL = "\x00"


def nul_path(value: Any, path: str) -> str | None:
    """The path (camelCase, list indexes as numbers) of the first string holding a NUL."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):  # JSON
        for key, inner in value.items():
            found = (f"{path}.{key}" if NUL in str(key) else
                     nul_path(inner, f"{path}.{key}"))
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for index, inner in enumerate(value):
            if found := nul_path(inner, f"{path}.{index}"):
                return found
        return None
    if has_object_definition(value):  # a strawberry input object
        for field in value.__strawberry_definition__.fields:
            name = field.graphql_name or to_camel_case(field.python_name)
            if found := nul_path(getattr(value, field.python_name, None), f"{path}.{name}"):
                return found
    return None


def _nul_argument(kwargs: dict) -> str | None:
    for name, value in kwargs.items():
        if found := nul_path(value, to_camel_case(name)):
            # Mutations name fields relative to their single `input` object (a list of
            # inputs keeps the prefix: `input.3.externalId`, as recordEvents does).
            if name == "input" and not isinstance(value, list):
                return found.removeprefix("input.")
            return found
    return None


def _refused(payload: type, field: str) -> Any:
    """`payload` carrying one INVALID_VALUE userError for `field`, its data left empty."""
    values = {}
    for f in payload.__strawberry_definition__.fields:
        kind = f.type
        if f.python_name == "user_errors":
            error_type = kind.of_type
            code = next(c.type for c in error_type.__strawberry_definition__.fields
                        if c.python_name == "code")
            codes = getattr(code, "wrapped_cls", code)
            values["user_errors"] = [error_type(
                field=field, code=codes["INVALID_VALUE"],
                message=f"{field} contains a NUL character, which text cannot hold")]
        elif (f.default is not dataclasses.MISSING
              or f.default_factory is not dataclasses.MISSING):
            continue
        elif isinstance(kind, StrawberryOptional):
            values[f.python_name] = None
        elif isinstance(kind, StrawberryList):
            values[f.python_name] = []
        elif kind is int:
            values[f.python_name] = 0
        else:
            values[f.python_name] = None
    return payload(**values)


class RejectNulCharacters(FieldExtension):
    """Refuse a root field's arguments when any text in them holds a NUL character."""

    def __init__(self, *, mutation: bool) -> None:
        self.mutation = mutation
        self.field: StrawberryField | None = None

    def apply(self, field: StrawberryField) -> None:
        self.field = field

    def resolve(self, next_, source, info, **kwargs):
        field = _nul_argument(kwargs)
        if field is None:
            return next_(source, info, **kwargs)
        return self._refuse(field)

    async def resolve_async(self, next_, source, info, **kwargs):
        field = _nul_argument(kwargs)
        if field is None:
            return await next_(source, info, **kwargs)
        return self._refuse(field)

    def _refuse(self, field: str) -> Any:
        if not self.mutation:
            raise InvalidValue(f"{field} contains a NUL character, which text cannot hold",
                               field=field)
        return _refused(self.field.type, field)


def guard_root_fields(root: type, *, mutation: bool) -> type:
    """Add RejectNulCharacters to every field of `root` that takes arguments."""
    for field in root.__strawberry_definition__.fields:
        assert isinstance(field, StrawberryField)
        if field.arguments:
            field.extensions.append(RejectNulCharacters(mutation=mutation))
    return root
