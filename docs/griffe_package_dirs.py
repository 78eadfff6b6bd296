"""A griffe extension: the API reference reads `amala`'s subpackages from the folders they are installed from.

`amala` is `api/` and each subpackage is a top-level folder (`amala.core` is `core/`, setuptools' package-dir).
An editable install maps them with an import hook; griffe, which reads source files instead of importing,
finds `api/` and then looks for `api/core/`, which does not exist. So once `amala` is loaded, each subpackage
the installed package can import but griffe did not find is loaded from where Python finds it.
"""

import importlib.util
from pathlib import Path

import griffe

SUBPACKAGES = ("core", "agents", "models", "oracles", "loop", "flows")


class PackageDirs(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs) -> None:
        if pkg.name != "amala":
            return
        for name in SUBPACKAGES:
            if name in pkg.members:
                continue
            spec = importlib.util.find_spec(f"amala.{name}")
            init = Path(spec.origin)
            pkg.set_member(name, loader._load_module(name, init, parent=pkg))
