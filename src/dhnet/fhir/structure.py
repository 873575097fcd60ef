"""What the ``fhir.resources`` R4B models say about each element: JSON key, FHIR type, cardinality, choice, codes.

:func:`elements` reads a model class once (cached) into :class:`Element`\\ s keyed by JSON property name, so that
the generic validation can walk raw JSON with types in hand and name every element by its FHIRPath
(``Observation.value.ofType(Quantity)`` for ``valueQuantity``).
"""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource

#: The metadata classes of ``fhir_core`` primitive annotations, by name, and the FHIR primitive they stand for.
_PRIMITIVES = {
    "Base64Binary": "base64Binary",
    "Boolean": "boolean",
    "Canonical": "canonical",
    "Code": "code",
    "Date": "date",
    "DateTime": "dateTime",
    "Decimal": "decimal",
    "Id": "id",
    "Instant": "instant",
    "Integer": "integer",
    "Integer64": "integer64",
    "Markdown": "markdown",
    "Oid": "oid",
    "PositiveInt": "positiveInt",
    "String": "string",
    "Time": "time",
    "UnsignedInt": "unsignedInt",
    "Uri": "uri",
    "Url": "url",
    "Uuid": "uuid",
    "Xhtml": "xhtml",
}
NUMBER_TYPES = frozenset({"integer", "integer64", "positiveInt", "unsignedInt", "decimal"})


@dataclass(frozen=True)
class Element:
    """One JSON property of a FHIR type."""

    key: str  # JSON property: valueQuantity, status, class
    name: str  # FHIRPath name: value (a choice), status, class
    type: str  # FHIR type: code, Reference, MeasureReportGroup, Resource
    is_list: bool
    primitive: bool
    choice: str | None = None  # the choice element (value) when key is one of its types (valueQuantity)
    choice_required: bool = False
    required: bool = False
    codes: tuple[str, ...] = ()  # the allowed codes of a required binding, when the model lists them
    targets: tuple[str, ...] = ()  # allowed reference target types
    extensible: bool = False  # a primitive that may carry an id and extensions (``_status``); not Resource.id

    def path(self, parent: str) -> str:
        """The FHIRPath of this element under ``parent``; choice types as ``value.ofType(Quantity)``."""
        if self.choice is None:
            return f"{parent}.{self.name}"
        suffix = self.key[len(self.choice) :]
        if self.primitive:
            suffix = suffix[:1].lower() + suffix[1:]
        return f"{parent}.{self.choice}.ofType({suffix})"


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the inner type, whether it is a list) of ``Optional[List[X]]`` and the like."""
    is_list = False
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
        elif origin in (list, typing.List):  # noqa: UP006  (typing.List is what the models use)
            is_list = True
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation, is_list


def _type_name(annotation: Any) -> tuple[str, bool]:
    """(FHIR type name, primitive?) of an unwrapped annotation."""
    if typing.get_origin(annotation) is typing.Annotated:
        for meta in typing.get_args(annotation)[1:]:
            name = type(meta).__name__
            if name in _PRIMITIVES:
                return _PRIMITIVES[name], True
        base = typing.get_args(annotation)[0]
        return ("string", True) if base is str else (getattr(base, "__name__", "string"), True)
    if annotation is bool:
        return "boolean", True
    if annotation in (str, int, float):
        return {str: "string", int: "integer", float: "decimal"}[annotation], True
    name = getattr(annotation, "__name__", str(annotation))
    if name.endswith("Type"):
        name = name[: -len("Type")]
    return name, False


@functools.cache
def model_class(type_name: str) -> type[Any] | None:
    """The R4B model class of a complex type or resource, or None when there is none."""
    try:
        return get_fhir_model_class(type_name)
    except (KeyError, ValueError, ImportError, AttributeError):
        return None


@functools.cache
def is_resource_type(name: str) -> bool:
    """Whether ``name`` is a resource type (not a data type) that the R4B models know."""
    if not name or not name[0].isupper() or not name.isalnum():
        return False
    cls = model_class(name)
    return cls is not None and issubclass(cls, Resource) and name not in ("Resource", "DomainResource")


@functools.cache
def elements(cls: type[Any]) -> dict[str, Element]:
    """The elements of model class ``cls`` by JSON key (primitive-extension keys ``_x`` not included)."""
    result: dict[str, Element] = {}
    for field_name, info in cls.model_fields.items():
        if field_name.endswith("__ext") or field_name in ("fhir_comments", "resource_type"):
            continue
        key = info.alias or field_name
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if not extra.get("element_property"):
            continue
        inner, is_list = _unwrap(info.annotation)
        type_name, primitive = _type_name(inner)
        choice = extra.get("one_of_many")
        codes = extra.get("enum_values") or ()
        targets = extra.get("enum_reference_types") or ()
        result[key] = Element(
            key=key,
            name=key if not choice else str(choice),
            type=type_name,
            is_list=is_list,
            primitive=primitive,
            choice=str(choice) if choice else None,
            choice_required=bool(extra.get("one_of_many_required")),
            required=bool(extra.get("element_required")) or info.is_required(),
            codes=tuple(str(c) for c in codes) if isinstance(codes, list | tuple) else (),
            targets=tuple(str(t) for t in targets) if isinstance(targets, list | tuple) else (),
            extensible=primitive and f"{field_name}__ext" in cls.model_fields,
        )
    return result


@functools.cache
def field_keys(cls: type[Any]) -> dict[str, str]:
    """Python field name -> JSON key (``class_fhir`` -> ``class``, ``status__ext`` -> ``_status``)."""
    return {name: (info.alias or name) for name, info in cls.model_fields.items()}
