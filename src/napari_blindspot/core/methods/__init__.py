"""The methods, by name: each module says all of one method (base.py: what every method says).

    method = methods.get("hqssl")
    method.build_network(2, 1, network); method.loss(model, out, target, coords, keep)

Adding a method: one module with a `Method` subclass, and one line in `_REGISTRY` below
(docs/architecture.md, "Adding a method").
"""

from __future__ import annotations

from .base import Method
from .hqssl import HQSSL
from .n2n import N2N
from .n2v import N2V, N2V2

_REGISTRY: dict[str, Method] = {m.name: m for m in (N2V(), N2V2(), HQSSL(), N2N())}


def names() -> tuple[str, ...]:
    """The registered method names, in the order the command line and the widget offer them."""
    return tuple(_REGISTRY)


def get(name: str) -> Method:
    """The method called `name`, or a ValueError listing the methods."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown method {name!r}: use one of {', '.join(_REGISTRY)}") from None


def register(method: Method) -> Method:
    """Add `method` under its name (a plugin's or a test's; the package's own are listed above)."""
    if not method.name or method.name in _REGISTRY:
        raise ValueError(f"a method needs a new name, got {method.name!r} (taken: {', '.join(_REGISTRY)})")
    _REGISTRY[method.name] = method
    return method


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


__all__ = ["Method", "get", "names", "register", "unregister"]
