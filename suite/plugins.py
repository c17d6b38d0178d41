"""``--plugin FILE``: a Python file that registers models or tasks
(``suite.register_model`` / ``suite.register_task``). It is imported in the
driver (so plan validation knows its names) and again in every cell's child
process (so the cell can build what it registers).

A cell that runs on another machine (Ray, Slurm) may not find the file there:
its text travels with the cell (:func:`plugin_sources`) and the child runs that
text (:func:`load_plugin_sources`), so every node runs the plugin the driver read.

Whatever a plugin registers remembers the file it came from (its resolved path
and the SHA-256 of its bytes, ``suite.registry.plugin_origin``), so every record
says which plugin code built its model or task. A path that is not a ``.py``
file, or a file that fails to import, is a :class:`PluginError`: one line naming
the file and the fix, never a traceback."""

from __future__ import annotations

import hashlib
import sys
import traceback
import types
from pathlib import Path

from suite import registry
from suite.errors import UsageError

HINT = "a plugin is a .py file that calls suite.register_model / suite.register_task"


class PluginError(UsageError):
    pass


def _plugin_file(path) -> Path:
    """``path`` as an existing ``.py`` file, or a :class:`PluginError` saying what is wrong."""
    path = Path(path)
    if path.is_dir():
        raise PluginError(f"--plugin {path} is a folder; pass the .py file in it ({HINT})")
    if not path.is_file():
        raise PluginError(f"--plugin {path}: no such file; check the path ({HINT})")
    if path.suffix != ".py":
        raise PluginError(f"--plugin {path} is not a Python file; pass a .py file ({HINT})")
    return path


def load_plugins(paths) -> None:
    """Import each plugin file (paths as given on the command line)."""
    for path in paths or []:
        path = _plugin_file(path)
        _run(path.resolve(), path.read_bytes(), shown=path)


def plugin_sources(paths) -> list[dict]:
    """The plugin files as ``{"path", "source"}`` entries to ship with a cell (the text is the
    file's bytes decoded, newlines kept, so its SHA-256 on the node is the file's)."""
    sources = []
    for path in paths or []:
        path = _plugin_file(path)
        try:
            sources.append({"path": str(path.resolve()), "source": path.read_bytes().decode("utf-8")})
        except UnicodeDecodeError:
            raise PluginError(f"--plugin {path} is not UTF-8 text; save it as UTF-8") from None
    return sources


def load_plugin_sources(sources) -> None:
    """Run each shipped plugin text as a module named after its file (no file needed here)."""
    for entry in sources or []:
        path = Path(entry["path"])
        _run(path, entry["source"].encode("utf-8"), shown=path)


def _run(path: Path, source: bytes, shown: Path) -> None:
    """Run a plugin's ``source`` as the module ``suite_plugin_<stem>``; what it registers
    gets the origin ``{"path": path, "sha256": sha256(source)}``."""
    module = types.ModuleType(f"suite_plugin_{path.stem}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module
    with registry.plugin_origin(str(path), hashlib.sha256(source).hexdigest()):
        try:
            exec(compile(source, str(path), "exec"), module.__dict__)
        except UsageError as error:  # e.g. a name it may not take: already one line with the fix
            raise PluginError(f"--plugin {shown}: {error}") from None
        except (Exception, SystemExit) as error:
            raise PluginError(
                f"--plugin {shown} failed to import{_where(error, path)}: "
                f"{type(error).__name__}: {_first_line(error)}; fix the file "
                f"(`python {shown}` shows the whole traceback)"
            ) from None


def _where(error: BaseException, path: Path) -> str:
    """`` (line N)``: the last line of the plugin file the error passed through."""
    if isinstance(error, SyntaxError) and error.filename == str(path) and error.lineno:
        return f" (line {error.lineno})"
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == str(path)]
    return f" (line {lines[-1]})" if lines else ""


def _first_line(error: BaseException) -> str:
    if isinstance(error, SyntaxError):
        return error.msg
    return ((str(error).strip().splitlines() or [""])[0])[:300]
