"""Packages that re-export lazily: importing one loads none of its submodules, and every
public name is still served, the same object as its module's."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from types import ModuleType

import pytest

LAZY_PACKAGES = ("sequences", "engine.timelinesai")


def fresh(code: str) -> object:
    """What ``code`` (which sets ``result``) finds in a new interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", f"import json\n{code}\nprint(json.dumps(result))"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_importing_the_package_loads_none_of_its_submodules(package: str) -> None:
    code = f"import sys, {package}\nresult = [m for m in sys.modules if m.startswith('{package}.')]"
    assert fresh(code) == []


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_public_name_is_its_modules_object(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        home = getattr(value, "__module__", None)
        if isinstance(home, str) and home.startswith(f"{package}."):
            assert getattr(importlib.import_module(home), name) is value, name


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_an_unknown_name_is_an_attribute_error(package: str) -> None:
    module = importlib.import_module(package)
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = module.no_such_name


def test_a_submodule_named_like_its_export_leaves_the_export_in_place() -> None:
    """``sequences.launch`` (the module) gives ``launch`` (the function): importing the
    module by itself first must not put the module where the function is expected."""
    code = (
        "import sequences.launch, sequences.forecast\n"
        "from sequences import launch, forecast\n"
        "result = [type(launch).__name__, type(forecast).__name__]"
    )
    assert fresh(code) == ["function", "function"]


def test_a_submodule_that_is_no_export_is_still_imported_by_name() -> None:
    from sequences import suppression

    assert isinstance(suppression, ModuleType)
