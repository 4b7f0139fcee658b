"""How failures reach clients.

Expected failures (bad input, not found, forbidden state) are `userErrors` in
mutation payloads, or GraphQL errors with `extensions.code` on queries.
Anything else is a bug: the client sees "Unexpected error" with a request id,
the log gets the traceback under the same id.
"""

from __future__ import annotations

import logging
from enum import Enum

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from domain.errors import DomainError

log = logging.getLogger("tierwise.api")


class ApiError(DomainError):
    """An expected failure raised by the API layer itself (ids, cursors)."""


def _with_code(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    extensions = {"code": original.code}
    if original.field:
        extensions["field"] = original.field
    return GraphQLError(original.message, nodes=error.nodes, source=error.source,
                        positions=error.positions, path=error.path, extensions=extensions)


@strawberry.interface(description="An expected failure: which input field, what code, why.")
class UserError:
    field: str | None = strawberry.field(description="Path of the input field at fault.")
    message: str


def user_errors(error: DomainError, error_type: type, codes: type[Enum], *,
                prefix: str | None = None) -> list:
    """Map a domain error (or a rejected batch) to a payload's userErrors."""
    rejects = getattr(error, "rejects", None)
    if rejects is not None:
        return [user_error(e, error_type, codes, prefix=f"{prefix or 'input'}.{index}")
                for index, e in rejects]
    return [user_error(error, error_type, codes, prefix=prefix)]


def user_error(error: DomainError, error_type: type, codes: type[Enum], *,
               prefix: str | None = None):
    field = error.field
    if prefix:
        field = f"{prefix}.{field}" if field else prefix
    code = codes[error.code] if error.code in codes.__members__ else codes["INVALID_VALUE"]
    return error_type(field=field, code=code, message=error.message)


def _is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, (GraphQLError, DomainError))


class MaskUnexpectedErrors(MaskErrors):
    """Mask errors that are bugs, log them with the request id, keep the rest visible."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: not _is_expected(error),
                         error_message="Unexpected error.")

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        # Domain errors raised by query resolvers become coded, visible errors.
        return super()._process_errors([
            _with_code(e) if isinstance(e.original_error, DomainError) else e for e in errors
        ])

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        context = self.execution_context.context
        request_id = getattr(context, "request_id", "-")
        log.error("request %s: unexpected error at %s", request_id, error.path,
                  exc_info=error.original_error)
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_ERROR", "requestId": request_id}
        return masked
