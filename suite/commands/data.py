"""``python -m suite data fetch NAME | list``: get a real data set before a run, see which are here.

``fetch`` is the only command that downloads, and only what it is asked for; a run never does
(building a real-data task only looks on disk: :func:`suite.data.locate`). The data root is
``--data-dir``, else ``$SUITE_DATA_DIR``, else the user's cache (``$XDG_CACHE_HOME/suite/data``,
``~/.cache/suite/data``). ``--offline`` forbids downloading: a data set that is not here is then
one line and exit 2. A cached file whose sha256 differs from its manifest is refused; ``--force``
fetches it again.
"""

from __future__ import annotations

import json
import time

from suite.data import DATASETS, data_root, fetch, locate
from suite.errors import UsageError


def add_arguments(parser) -> None:
    actions = parser.add_subparsers(dest="data_command", required=True, parser_class=type(parser))
    fetching = actions.add_parser("fetch", help="get a data set into the data root (nothing if it is already there)")
    fetching.add_argument("name", help=f"one of {', '.join(DATASETS)}")
    fetching.add_argument("--offline", action="store_true", help="never download: fail if the data set is missing")
    fetching.add_argument("--force", action="store_true", help="fetch again even over a cached copy")
    listing = actions.add_parser("list", help="the data sets known, and where each is on this machine")
    listing.add_argument("--json", action="store_true")
    for sub in (fetching, listing):
        sub.add_argument("--data-dir", default=None, help="data root (default: $SUITE_DATA_DIR or the user cache)")


def command(args) -> int:
    return command_fetch(args) if args.data_command == "fetch" else command_list(args)


def command_fetch(args) -> int:
    start = time.perf_counter()
    info = fetch(args.name, args.data_dir, offline=args.offline, force=args.force)
    print(f"{info.name} {info.version}: ready in {time.perf_counter() - start:.2f} s")
    print(f"  path:    {info.path}")
    print(f"  size:    {info.size_bytes:,} bytes")
    print(f"  sha256:  {info.sha256}")
    print(f"  licence: {info.licence}")
    print(f"  source:  {info.source}")
    return 0


def status(name: str, root) -> dict:
    """Where data set ``name`` is here (sha256-checked), or why it cannot be used."""
    try:
        info = locate(name, root)
    except UsageError as error:  # missing (how to get it), or a corrupt cache (the command that replaces it)
        return {"here": False, "problem": str(error)}
    return {"here": True, "path": str(info.path), "size_bytes": info.size_bytes, "sha256": info.sha256}


def command_list(args) -> int:
    root = data_root(args.data_dir)
    rows = [
        {"name": d.name, "kind": d.kind, "version": d.version, "licence": d.licence, "source": d.source,
         "description": d.description, **status(d.name, root)}
        for d in DATASETS.values()
    ]  # fmt: skip
    if args.json:
        print(json.dumps({"data_root": str(root), "datasets": rows}, indent=2))
        return 0
    print(f"data sets (data root {root}):")
    for row in rows:
        print(f"  {row['name']:<14} {row['description']}")
        print(f"      version {row['version']}; licence {row['licence']}; source {row['source']}")
        where = f"here: {row['path']} ({row['size_bytes']:,} bytes)" if row["here"] else row["problem"]
        print(f"      {where}")
    return 0
