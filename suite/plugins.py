"""``--plugin FILE``: a Python file that registers models or tasks
(``suite.register_model`` / ``suite.register_task``). It is imported in the
driver (so plan validation knows its names) and again in every cell's child
process (so the cell can build what it registers)."""
from __future__ import annotations

import importlib.util
from pathlib import Path


class PluginError(ValueError):
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
