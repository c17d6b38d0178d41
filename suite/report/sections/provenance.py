"""The provenance section: the command, the environment, the backends per model, the packages, the
plan and the preset's configuration, from the manifest and the records."""

from __future__ import annotations

import json
import shlex

from suite.report.format import (
    cells,
    distinct,
    text_of,
)
from suite.report.template import section


ENVIRONMENT_KEYS = (
    "python",
    "platform",
    "torch_version",
    "cuda_version",
    "cudnn_version",
    "device",
    "device_name",
    "torch_threads",
    "git_commit",
    "git_dirty",
    "hostname",
)


def provenance_section(inputs):
    records, manifest = inputs.records, inputs.manifest
    environment = manifest.get("environment") or {}
    command = manifest.get("command")
    if command:
        command = shlex.join(str(a) for a in command) if isinstance(command, list) else str(command)
    manifest_backends = manifest.get("backends") or {}
    models = list(dict.fromkeys(list(records["model"].dropna()) + list(manifest_backends)))
    backend_rows = []
    for model in models:
        mine = records[records["model"] == model]
        backend_rows.append(
            [
                model,
                distinct(mine, "backend"),
                text_of(manifest_backends.get(model)),
                distinct(mine, "dtype"),
                distinct(mine, "torch_threads"),
                distinct(mine, "device"),
            ]
        )
    packages = environment.get("packages") or {}
    plan = manifest.get("plan") or {}
    return section(
        "provenance",
        "Provenance",
        "provenance.html.j2",
        command=command,
        environment=[(k, text_of(environment.get(k))) for k in ENVIRONMENT_KEYS] if environment else [],
        backend_rows=cells(backend_rows),
        packages=cells([[name, version if version else "not installed"] for name, version in sorted(packages.items())]),
        plan=[(k, text_of(json.dumps(v) if isinstance(v, (list, dict)) else v)) for k, v in plan.items()],
        preset=text_of(manifest.get("preset")),
        preset_config=json.dumps(manifest["preset_config"], indent=2, sort_keys=True, default=str)
        if manifest.get("preset_config")
        else "",
    )
