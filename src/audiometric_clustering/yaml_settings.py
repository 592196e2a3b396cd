"""Typed settings of the YAML parameters: one class per entry, validated one way.

Every entry of ``conf/base/parameters*.yml`` (``model``, ``pretraining``, ``evaluation``, ...)
has one class derived from :class:`YamlSettings`, next to the code that reads it. A class
declares each key with its type and bounds (``Annotated[int, Ge(1)]``) and no default:
``conf/base`` is the only place a default lives, so a key missing from the YAML is refused,
and so is an unknown one (``epoch`` for ``epochs`` would otherwise train with a silent
default). The few keys that only some configurations need default to ``None`` ("not
given"); the class's own check says when one is needed.

A bad value fails before any work starts (the project hook checks every entry a pipeline
reads) with one message naming the full key, the value and what is allowed::

    joint_training.epochs = -1: expected an integer >= 1

The nodes get their settings from the parameter dicts with ``from_params``. Kedro 1.7 could
instantiate a pydantic type hint on a ``params:`` input itself, but the catalog would then
hold these objects instead of the YAML's dicts: kedro-mlflow flattens only dicts into one
MLflow parameter per key, and the MLflow model's prediction pipeline gets its parameters
from JSON. So the catalog keeps dicts and each node converts the entry it reads.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, ClassVar, Literal, Self, Union, get_args, get_origin

import annotated_types as at
from annotated_types import Len
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo


class Expect:
    """Field metadata: what a value must be, in words, where the type and bounds do not say
    it well (``[low, high] with low < high``)."""

    def __init__(self, text: str) -> None:
        self.text = text


class Refusal(ValueError):
    """Raised by a settings class's own checks. ``key`` (relative to the class) and
    ``value`` are named in the message; without a key the text describes the section."""

    def __init__(self, text: str, key: str | None = None, value: Any = None) -> None:
        super().__init__(text)
        self.text, self.key, self.value = text, key, value


def increasing(interval: list[float]) -> list[float]:
    """A ``[low, high]`` interval's check: ``low < high``."""
    if not interval[0] < interval[1]:
        raise ValueError("not increasing")
    return interval


#: ``[low, high]`` with ``low < high`` (a range of dB, of shares).
Interval = Annotated[
    list[float], Len(2, 2), AfterValidator(increasing), Expect("[low, high] with low < high")
]


def named(allowed: Iterable[str], what: str) -> BeforeValidator:
    """A mapping keyed by names among ``allowed`` (the ``what``: terms, patterns), checked
    first so that a misspelt name is named as such."""
    allowed = list(allowed)

    def check(values: Any) -> Any:
        if not isinstance(values, Mapping):
            raise Refusal(f"expected a mapping of {what}")
        unknown = [name for name in values if name not in allowed]
        if unknown:
            raise Refusal(f"unknown {what} {unknown}; known: {allowed}")
        return values

    return BeforeValidator(check)


class YamlSettings(BaseModel):
    """Base of every entry's settings: strict types (``"yes"`` is no boolean, ``2.5`` no
    integer), frozen, no unknown or missing keys."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    #: The entry's name in the parameters (``params:<ENTRY>``), for the messages.
    ENTRY: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, values: Any) -> Any:
        if not isinstance(values, Mapping):
            raise Refusal("expected a mapping of parameters")
        required = cls.required_keys(values)
        unknown = sorted(set(values) - set(cls.model_fields))
        missing = sorted(required - set(values))
        if unknown or missing:
            parts = [f"unknown parameters {unknown}"] if unknown else []
            parts += [f"missing parameters {missing}"] if missing else []
            raise Refusal(", ".join(parts))
        return values

    @classmethod
    def required_keys(cls, values: Mapping[str, Any]) -> set[str]:
        """The keys ``values`` must have: every field without a default (a class whose needs
        depend on the values extends this)."""
        return {name for name, field in cls.model_fields.items() if field.is_required()}

    @classmethod
    def from_params(cls, values: Any, entry: str | None = None) -> Self:
        """The settings of ``values`` (the entry's dict), or a ``ValueError`` naming the full
        key (under ``entry``, by default the class's ``ENTRY``), the value and what is allowed."""
        entry = entry or cls.ENTRY
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise ValueError(_message(cls, entry, values, error.errors()[0])) from None


# --- messages ------------------------------------------------------------------------------


def _message(cls: type[BaseModel], entry: str, values: Any, error: dict[str, Any]) -> str:
    """``entry.key = value: expected ...`` for the first error pydantic found."""
    path, model, field, raw = [entry] if entry else [], cls, None, values
    for part in error["loc"]:
        if isinstance(part, int):
            break  # an item of a list: the message names the whole list
        if model is not None and part in model.model_fields:
            field = model.model_fields[part]
        elif model is None and field is not None:  # a key of a mapping (a term, a pattern)
            field = FieldInfo.from_annotation(_value_type(field))
        else:
            break
        model = _settings_class(field.annotation)
        path.append(str(part))
        raw = raw.get(part) if isinstance(raw, Mapping) else None
    cause = error.get("ctx", {}).get("error")
    key = ".".join(path)
    if isinstance(cause, Refusal):
        if cause.key is None:
            return f"{key}: {cause.text}"
        return f"{key}.{cause.key} = {cause.value!r}: expected {cause.text}"
    expected = "a mapping of parameters" if model is not None or field is None else describe(field)
    return f"{key} = {raw!r}: expected {expected}"


def _unannotated(annotation: Any) -> tuple[Any, list[Any]]:
    """The type inside ``Annotated[...]`` and its metadata."""
    if get_origin(annotation) is Annotated:
        base, *metadata = get_args(annotation)
        return base, metadata
    return annotation, []


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _settings_class(annotation: Any) -> type[BaseModel] | None:
    inner, _ = _unannotated(_without_none(annotation))
    return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None


def _value_type(field: FieldInfo) -> Any:
    """The value type of a mapping field."""
    mapping, _ = _unannotated(_without_none(field.annotation))
    args = get_args(mapping) if get_origin(mapping) is dict else ()
    return args[1] if args else Any


def describe(field: FieldInfo) -> str:
    """What a field accepts, in words: from its ``Expect``, or from its type and bounds."""
    inner = _without_none(field.annotation)
    base, metadata = _unannotated(inner)
    metadata += list(field.metadata)
    texts = [item.text for item in metadata if isinstance(item, Expect)]
    text = texts[0] if texts else _describe_type(base, metadata)
    # null is a value only where the key is required; elsewhere None means "not given"
    nullable = inner is not field.annotation and field.is_required()
    return f"{text} (or null)" if nullable else text


def _describe_type(annotation: Any, metadata: list[Any]) -> str:
    if annotation is bool:
        return "true or false"
    if get_origin(annotation) is Literal:
        return f"one of {list(get_args(annotation))}"
    if annotation is str:
        return "a text"
    if annotation in (int, float):
        kind = "an integer" if annotation is int else "a number"
        return f"{kind}{_bounds(metadata)}"
    return f"a value of type {getattr(annotation, '__name__', annotation)}"


def _bounds(metadata: list[Any]) -> str:
    low = next((m for m in metadata if isinstance(m, at.Ge | at.Gt)), None)
    high = next((m for m in metadata if isinstance(m, at.Le | at.Lt)), None)
    low_value = None if low is None else (low.ge if isinstance(low, at.Ge) else low.gt)
    high_value = None if high is None else (high.le if isinstance(high, at.Le) else high.lt)
    if low is not None and high is not None:
        left = "[" if isinstance(low, at.Ge) else "("
        right = "]" if isinstance(high, at.Le) else ")"
        return f" in {left}{low_value:g}, {high_value:g}{right}"
    if low is not None:
        return f" {'>=' if isinstance(low, at.Ge) else '>'} {low_value:g}"
    if high is not None:
        return f" {'<=' if isinstance(high, at.Le) else '<'} {high_value:g}"
    return ""
