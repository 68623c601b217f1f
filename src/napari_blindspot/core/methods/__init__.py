"""The methods, by name: each module says all of one method (base.py: what every method says).

    method = methods.get("hqssl")
    method.build_network(2, 1, network); method.loss(model, out, target, coords, keep)

Adding a method: one module with a `Method` subclass, and one line in `_REGISTRY` below
(docs/architecture.md, "Adding a method"). A method's module is imported when it is first
asked for, so the names (config.METHODS, the command line's choices) cost no torch import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Method

# name -> "module:class" (imported on first use) or the method object; in the order offered.
_REGISTRY: dict[str, str | Method] = {
    "n2v": "n2v:N2V",
    "n2v2": "n2v:N2V2",
    "hqssl": "hqssl:HQSSL",
    "n2n": "n2n:N2N",
}


def names() -> tuple[str, ...]:
    """The registered method names, in the order the command line and the widget offer them."""
    return tuple(_REGISTRY)


def get(name: str) -> Method:
    """The method called `name`, or a ValueError listing the methods."""
    try:
        entry = _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown method {name!r}: use one of {', '.join(_REGISTRY)}") from None
    if isinstance(entry, str):
        module, cls = entry.split(":")
        entry = _REGISTRY[name] = getattr(importlib.import_module(f".{module}", __name__), cls)()
    return entry


def register(method: Method) -> Method:
    """Add `method` under its name (a plugin's or a test's; the package's own are listed above)."""
    if not method.name or method.name in _REGISTRY:
        raise ValueError(f"a method needs a new name, got {method.name!r} (taken: {', '.join(_REGISTRY)})")
    _REGISTRY[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove a method `register` added."""
    _REGISTRY.pop(name, None)


def __getattr__(name: str):
    if name == "Method":  # the base class, without importing torch for the names alone
        from .base import Method

        return Method
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
