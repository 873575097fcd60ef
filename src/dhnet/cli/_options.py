"""Method options on the command line, mapped generically onto a method's control dataclass.

``--past-weeks-not-included 26`` sets the field ``past_weeks_not_included``;
the value is converted by the field's type annotation:

=====================  =============================================================
annotation             command line
=====================  =============================================================
``int`` / ``float``    ``--b 3``, ``--alpha=0.01`` (``float`` accepts ``1e-3``, ``inf``)
``bool``               ``--trend`` / ``--no-trend`` (also ``--trend=false``)
``str``                the text
``Literal[...]``       one of the choices (``--variant C2``)
``X | None``           ``none`` or ``null`` (any case) for ``None``, else as ``X``
``tuple[...]``         comma-separated, e.g. ``--limit54 5,4``; ``tuple[X, ...]``
                       any length; ``list[X]`` likewise
unions                 each member tried in order
=====================  =============================================================

Any other annotation cannot be set from the command line.  Errors are
:class:`~dhnet.cli._errors.InputError` naming the option.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Sequence
from typing import Any, Literal, Union, get_args, get_origin

from dhnet.cli._errors import InputError

_NONE_WORDS = {"none", "null"}
_TRUE_WORDS = {"true", "yes", "1", "on"}
_FALSE_WORDS = {"false", "no", "0", "off"}


def option_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def control_fields(control_type: type[Any]) -> dict[str, Any]:
    """Field name -> resolved type annotation of a control dataclass (init fields only)."""
    if not dataclasses.is_dataclass(control_type):
        raise TypeError(f"{control_type!r} is not a dataclass")
    hints = typing.get_type_hints(control_type, include_extras=False)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(control_type) if f.init}


def is_flag(annotation: Any) -> bool:
    """A bool field (optionally ``bool | None``): written ``--x`` / ``--no-x``."""
    if annotation is bool:
        return True
    if _is_union(annotation):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return members == [bool]
    return False


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


class _BadValue(ValueError):
    pass


def convert(annotation: Any, text: str) -> Any:
    """Convert ``text`` to a value of type ``annotation``; ``_BadValue`` explains a failure."""
    if annotation is Any:
        return text
    if annotation is type(None):
        if text.strip().lower() in _NONE_WORDS:
            return None
        raise _BadValue("expected none")
    if annotation is bool:
        word = text.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise _BadValue("expected true or false")
    if annotation is int:
        try:
            return int(text.strip())
        except ValueError:
            raise _BadValue("expected an integer") from None
    if annotation is float:
        try:
            value = float(text.strip())
        except ValueError:
            raise _BadValue("expected a number") from None
        if math.isnan(value):
            raise _BadValue("expected a number")
        return value
    if annotation is str:
        return text
    origin = get_origin(annotation)
    if origin is Literal:
        choices = get_args(annotation)
        for choice in choices:
            if isinstance(choice, str) and text == choice:
                return choice
        for choice in choices:  # non-string literals (ints, bools) by their text
            if not isinstance(choice, str) and text.strip().lower() == str(choice).lower():
                return choice
        # A case-insensitive match as a convenience (c2 -> C2) when unambiguous.
        folded = [c for c in choices if isinstance(c, str) and c.lower() == text.lower()]
        if len(folded) == 1:
            return folded[0]
        raise _BadValue("expected one of " + ", ".join(str(c) for c in choices))
    if _is_union(annotation):
        members = get_args(annotation)
        if type(None) in members and text.strip().lower() in _NONE_WORDS:
            return None
        reasons = []
        for member in members:
            if member is type(None):
                continue
            try:
                return convert(member, text)
            except _BadValue as exc:
                reasons.append(str(exc).removeprefix("expected "))
        if type(None) in members:
            reasons.append("none")
        raise _BadValue("expected " + " or ".join(dict.fromkeys(reasons)))
    if origin in (tuple, list, Sequence) or annotation in (tuple, list):
        args = get_args(annotation)
        parts = [p for p in (s.strip() for s in text.split(",")) if p != ""] if text.strip() else []
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(parts) != len(args):
                raise _BadValue(f"expected {len(args)} comma-separated values")
            items = [convert(a, p) for a, p in zip(args, parts, strict=True)]
        else:
            elem = args[0] if args else Any
            items = [convert(elem, p) for p in parts]
        return tuple(items) if origin is tuple or annotation is tuple else items
    raise _BadValue(f"cannot be set from the command line (type {annotation!r})")


def parse_method_options(method: str, control_type: type[Any], args: Sequence[str]) -> dict[str, Any]:
    """Parse ``--name value`` / ``--name=value`` / ``--flag`` / ``--no-flag`` tokens into field values."""
    fields = control_fields(control_type)
    values: dict[str, Any] = {}
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        if not token.startswith("--") or token == "--":
            raise InputError(f"unexpected argument {token!r}")
        name, has_value, inline = token[2:].partition("=")
        field = name.replace("-", "_")
        negated = False
        if field not in fields and field.startswith("no_") and is_flag(fields.get(field[3:])):
            field, negated = field[3:], True
        if field not in fields:
            known = sorted(option_name(f) for f in fields)
            close = difflib.get_close_matches("--" + name, known, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            listing = ", ".join(known) or "none"
            raise InputError(f"unknown option --{name} for method {method!r}{hint} (its options: {listing})")
        annotation = fields[field]
        opt = option_name(field)
        if negated:
            if has_value:
                raise InputError(f"option --no-{name[3:]} takes no value")
            values[field] = False
            continue
        if is_flag(annotation) and not has_value:
            values[field] = True
            continue
        if has_value:
            text = inline
        else:
            if i >= len(args):
                raise InputError(f"option {opt} needs a value")
            text = args[i]
            i += 1
        try:
            values[field] = convert(annotation, text)
        except _BadValue as exc:
            raise InputError(f"option {opt}: invalid value {text!r} ({exc})") from None
    return values


def split_args(
    args: Sequence[str], own: dict[str, bool], control_type: type[Any] | None
) -> tuple[list[str], list[str]]:
    """Separate the command's own options (``own``: name -> takes a value) from method options.

    Method options are the ``--x`` tokens that are not the command's own; a
    method option takes the next token as its value unless it is written
    ``--x=value`` or is a flag of ``control_type``.  Anything after ``--`` is
    positional.
    """
    fields = control_fields(control_type) if control_type is not None else {}
    kept: list[str] = []
    method: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        if token == "--":
            kept.extend(args[i - 1 :])
            break
        if not token.startswith("--"):
            kept.append(token)
            continue
        name, has_value, _ = token.partition("=")
        if name in own:
            kept.append(token)
            if own[name] and not has_value and i < len(args):
                kept.append(args[i])
                i += 1
            continue
        method.append(token)
        field = name[2:].replace("-", "_")
        flag = is_flag(fields.get(field)) or (field.startswith("no_") and is_flag(fields.get(field[3:])))
        if not has_value and not flag and i < len(args):
            method.append(args[i])
            i += 1
    return kept, method


def describe_options(control_type: type[Any]) -> list[tuple[str, str]]:
    """(option, "type, default") pairs for help texts."""
    out = []
    defaults = {f.name: f for f in dataclasses.fields(control_type)}
    for field, annotation in control_fields(control_type).items():
        f = defaults[field]
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = "(required)"
        flag = is_flag(annotation)
        opt = f"{option_name(field)}/--no-{field.replace('_', '-')}" if flag else option_name(field)
        out.append((opt, f"{_type_text(annotation)}, default {_value_text(default)}"))
    return out


def _type_text(annotation: Any) -> str:
    if annotation is type(None):
        return "none"
    if isinstance(annotation, type):
        return annotation.__name__
    if get_origin(annotation) is Literal:
        return "|".join(str(c) for c in get_args(annotation))
    if _is_union(annotation):
        return " or ".join(_type_text(a) for a in get_args(annotation))
    if get_origin(annotation) in (tuple, list):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        return "comma-separated " + (",".join(_type_text(a) for a in args) if args else "values")
    return str(annotation)


def _value_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return str(value)
