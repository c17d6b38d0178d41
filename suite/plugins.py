"""``--plugin FILE``: a Python file that registers models or tasks
(``suite.register_model`` / ``suite.register_task``). It is imported in the
driver (so plan validation knows its names) and again in every cell's child
process (so the cell can build what it registers).

A cell that runs on another machine (Ray, Slurm) may not find the file there:
its text travels with the cell (:func:`plugin_sources`) and the child runs that
text (:func:`load_plugin_sources`), so every node runs the plugin the driver read."""
from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

from suite.errors import UsageError


class PluginError(UsageError):
    pass


def load_plugins(paths) -> None:
    for path in paths or []:
        path = Path(path)
        if not path.is_file():
            raise PluginError(f"--plugin {path}: no such file")
        spec = importlib.util.spec_from_file_location(f"suite_plugin_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            raise PluginError(f"--plugin {path} failed to import: {type(error).__name__}: {error}") from None


def plugin_sources(paths) -> list[dict]:
    """The plugin files as ``{"path", "source"}`` entries to ship with a cell."""
    sources = []
    for path in paths or []:
        if not Path(path).is_file():
            raise PluginError(f"--plugin {path}: no such file")
        sources.append({"path": str(Path(path).resolve()), "source": Path(path).read_text(encoding="utf-8")})
    return sources


def load_plugin_sources(sources) -> None:
    """Run each shipped plugin text as a module named after its file (no file needed here)."""
    for entry in sources or []:
        path = Path(entry["path"])
        module = types.ModuleType(f"suite_plugin_{path.stem}")
        module.__file__ = str(path)
        sys.modules[module.__name__] = module
        try:
            exec(compile(entry["source"], str(path), "exec"), module.__dict__)
        except Exception as error:
            raise PluginError(f"--plugin {path} failed to import: {type(error).__name__}: {error}") from None
