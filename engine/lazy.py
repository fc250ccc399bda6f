"""Public names a package re-exports but imports only when first asked for (PEP 562).

A package's ``__init__`` that imported every submodule would make any import of one of
them (``from sequences.definition import ...``) pay for all of them: a command that
checks templates would load the campaign store, SQLModel and the models. With
:func:`export_lazily` the package re-exports its names as before (``from sequences
import launch``) and a submodule is imported the first time one of its names is read.
The package imports the same names under ``TYPE_CHECKING``, for the type checker.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from importlib import import_module
from types import ModuleType
from typing import Any


def export_lazily(package: str, exports: Mapping[str, tuple[str, ...]]) -> None:
    """Make the package ``package`` serve each name of ``exports`` (module name -> the
    names it gives) from that module, imported when the name is first read; the value
    is then kept in the package, so later reads cost nothing.

    A name may be its submodule's own (``sequences.launch``, the module, gives
    ``launch``, the function): the package keeps the function under that name even
    when the submodule is imported by itself, as an eager ``__init__`` did.
    """
    where = {name: module for module, names in exports.items() for name in names}

    class LazyPackage(ModuleType):
        def __getattr__(self, name: str) -> Any:
            module = where.get(name)
            if module is None:
                # Also how ``from package import submodule`` finds a submodule not yet
                # imported: the import system then imports it.
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            value = getattr(import_module(module), name)
            super().__setattr__(name, value)
            return value

        def __setattr__(self, name: str, value: Any) -> None:
            # The import system binds a submodule on its package once imported; where a
            # re-exported name is that submodule's, the name stays the export's.
            if isinstance(value, ModuleType) and where.get(name) == value.__name__:
                return
            super().__setattr__(name, value)

    sys.modules[package].__class__ = LazyPackage
