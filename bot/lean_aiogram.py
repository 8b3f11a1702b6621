"""Import aiogram's Telegram types without building all of their schemas up front.

aiogram declares its ~450 types with pydantic's `defer_build=True`, then calls
`model_rebuild()` on every one of them when `aiogram.types` is imported: each type builds a
complete validator holding its own copy of every nested type, about 110 MiB of memory for
types a bot mostly never validates (aiogram issue #1513). Here the rebuild calls made by that
import only record the namespace they carry; an aiogram model (type, API method, or a generic
response built at run time) is built with that namespace the first time it is used —
pydantic's placeholder validator asks `model_rebuild()` for it. Same types, same validation,
built on demand: a bot process starts at ~100 MiB instead of ~210 MiB (docs/benchmarks.md,
docs/decisions.md).

If aiogram is already imported, or stops rebuilding this way, nothing is patched and aiogram
behaves as shipped.
"""

from __future__ import annotations

import sys
import typing
from typing import Any

from pydantic import BaseModel

# The namespace aiogram rebuilds its types with: every name of `aiogram.types`.
_types_namespace: dict[str, Any] = {}
_original_rebuild = BaseModel.model_rebuild.__func__  # type: ignore[attr-defined]


def _is_aiogram(cls: type[BaseModel]) -> bool:
    return cls.__module__.startswith("aiogram.")


def _deferring_rebuild(cls: type[BaseModel], **kwargs: Any) -> bool | None:
    """While aiogram.types is imported: remember the namespace, build nothing."""
    namespace = kwargs.get("_types_namespace")
    if namespace is not None and _is_aiogram(cls):
        _types_namespace.update(namespace)
        return None
    return _original_rebuild(cls, **kwargs)


# Parametrized generics (aiogram's `Response[Message]` for every call) live in pydantic's
# weak cache: kept here, a parametrization is built once instead of at every API call.
_built_generics: set[type[BaseModel]] = set()


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def _lazy_rebuild(cls: type[BaseModel], **kwargs: Any) -> bool | None:
    """Afterwards: an aiogram model built on first use gets aiogram's namespace."""
    if not _is_aiogram(cls):
        return _original_rebuild(cls, **kwargs)
    if kwargs.get("_types_namespace") is None:
        kwargs["_types_namespace"] = _types_namespace
    arguments = cls.__pydantic_generic_metadata__["args"]
    # A generic's arguments first: their own schemas are then reused, not regenerated.
    for model in _models_in(tuple(arguments)):
        if not model.__pydantic_complete__:
            model.model_rebuild()
    built = _original_rebuild(cls, **kwargs)
    if arguments:
        _built_generics.add(cls)
    return built


def import_aiogram_lean() -> bool:
    """Import aiogram with deferred schemas; False when aiogram was already imported."""
    if "aiogram.types" in sys.modules:
        return False
    BaseModel.model_rebuild = classmethod(_deferring_rebuild)  # type: ignore[assignment,method-assign]
    try:
        import aiogram.methods  # the imports whose rebuilds are deferred
        import aiogram.types  # noqa: F401
    except BaseException:
        BaseModel.model_rebuild = classmethod(_original_rebuild)  # type: ignore[method-assign]
        raise
    if not _types_namespace:  # aiogram no longer rebuilds at import: leave it alone
        BaseModel.model_rebuild = classmethod(_original_rebuild)  # type: ignore[method-assign]
        return False
    BaseModel.model_rebuild = classmethod(_lazy_rebuild)  # type: ignore[assignment,method-assign]
    return True


def deferred_models() -> list[type[BaseModel]]:
    """aiogram models not built yet (for tests)."""
    found, stack = [], [BaseModel]
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if _is_aiogram(sub) and not sub.__pydantic_complete__:
                found.append(sub)
    return found
