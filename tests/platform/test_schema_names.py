"""Every API schema class has its own name.

django-ninja files each response and request model under its class name in the OpenAPI document's
``components/schemas``: two classes of one name (say ``SettingsOut`` of reporting and of feedback) silently share
one entry, and the document then describes one operation's answer with the other's fields (schemathesis found
exactly that). So the names must be unique across the platform, and the document must name every class it uses.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ninja import Schema

import dhnet.platform.api as platform_api


def _subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    todo = [cls]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def test_schema_class_names_are_unique(db: Any) -> None:
    platform_api.api.get_openapi_schema()  # every router imported and its schemas built
    by_name: dict[str, list[str]] = defaultdict(list)
    for cls in _subclasses(Schema):
        if cls.__module__.startswith("dhnet."):
            by_name[cls.__name__].append(f"{cls.__module__}.{cls.__qualname__}")
    clashes = {name: sorted(where) for name, where in by_name.items() if len(where) > 1}
    assert not clashes, f"API schema classes sharing a name (rename one): {clashes}"
