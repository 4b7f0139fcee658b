"""Expected failures of the customer-base models."""

from __future__ import annotations

from domain.errors import DomainError


class ModelError(DomainError):
    """The root of the model errors."""

    code = "MODEL_ERROR"


class ModelNotFittable(ModelError):
    """The history cannot identify the model (too few members, no repeat purchases,
    no spread in spend)."""

    code = "MODEL_NOT_FITTABLE"
