"""Turn pydantic validation errors into the one-line message users see."""

from __future__ import annotations

from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)

_PREFIXES = ("Value error, ", "Assertion failed, ")


class SettingsError(ValueError):
    """A stack's settings are invalid. ``str(error)`` is one line: stack, key, what is accepted."""

    def __init__(self, message: str) -> None:
        # Whatever the caller passed, keep the one-line contract.
        super().__init__(" ".join(message.split()))


def _model_of(annotation: Any) -> Any:
    """The pydantic model inside an annotation like ``Canary | None`` or ``list[Stage]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _describe(error: Any, model: type[BaseModel]) -> str:
    """One pydantic error as ``key=value: what is accepted``."""
    key = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"])
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    if error["type"] == "extra_forbidden":
        # Name the accepted keys: the usual cause is a typo.
        parent: Any = model
        for part in error["loc"][:-1]:
            fields = getattr(parent, "model_fields", {})
            field = fields.get(str(part)) if isinstance(part, str) else None
            parent = _model_of(field.annotation) if field is not None else parent
        accepted = (
            ", ".join(sorted(parent.model_fields))
            if isinstance(parent, type) and issubclass(parent, BaseModel)
            else "see the settings model"
        )
        return f"unknown key {key!r} (accepted: {accepted})"
    if not key:
        return message
    if error["type"] == "missing":
        return f"{key} is required"
    return f"{key}={error['input']!r}: {message}"


def format_validation_error(stack: str, exc: ValidationError, model: type[BaseModel]) -> str:
    """All errors of ``exc`` on one line, prefixed with the stack's name."""
    return f"{stack}: " + "; ".join(_describe(error, model) for error in exc.errors())


def load_settings(model: type[Model], stack: str, data: Any) -> Model:
    """Validate ``data`` (Sceptre's ``sceptre_user_data``) into ``model`` or raise SettingsError."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise SettingsError(format_validation_error(stack, exc, model)) from None
