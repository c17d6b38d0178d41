"""Which records of two runs are the same result, and what ``suite compare`` calls them.

A record's identity (:func:`suite.analysis.tables.record_identity`) is its ``cell_key`` (a
hash of everything that defines a cell: kind, model, task and its parameters, length, batch,
seed, model and training configuration) and, for an accuracy cell scored at several lengths
(``--eval-lens``, a preset's ``eval_len_multiples``), the evaluation length: each length is
its own record. Records of one cell and length that differ only by seed form a group
(:func:`group_key`): accuracy is judged per group.

Labels read ``model task T=<train length> @<eval length> seed=N`` (``mingru mqar T=64 @128
seed=0``; no ``@`` at the training length; ``(3 seeds)`` for a group; ``speed <scope>``,
``perf``, ``max-len probe`` or ``max_len`` in place of the task). Where cells of one label
differ in configuration (a width or layer sweep, a task-parameter grid, a learning-rate sweep)
the values that tell them apart are added: ``gru mqar T=64 [num_kv_pairs=4, d_model=32] seed=0``.

The probes of ``run --find-max-len`` are a search, not a grid: it stops at the first length that
fails, so probes one run has and the other lacks are not missing cells (:func:`unmatched`); the
runs' ``max_len`` records compare the boundary.
"""

from __future__ import annotations

import json
import re

import pandas as pd

from suite.analysis import tables as analysis
from suite.records.schema import is_max_len_probe

GROUP_FIELDS = ("kind", "model", "task", "seq_len", "batch_size")
CONFIG_FIELDS = ("task_params", "model_config", "train_config")


def group_key(record, identity: str = "") -> str:
    """A record's identity without its seed: the seeds of one cell, scored at one length, are grouped."""
    parts = {name: record.get(name) for name in GROUP_FIELDS + CONFIG_FIELDS}
    parts["seq_len"] = None if pd.isna(parts["seq_len"]) else int(parts["seq_len"])
    parts["batch_size"] = None if pd.isna(parts["batch_size"]) else int(parts["batch_size"])
    parts["eval_len"] = scored_at(identity)
    return json.dumps(parts, sort_keys=True, default=str)


def scored_at(identity) -> str | None:
    """The evaluation length an identity names (``"<cell_key>@128"`` → ``"128"``), None at the training length."""
    if not isinstance(identity, str):
        return None
    return identity.partition("@")[2] or None


def keyed(records: pd.DataFrame) -> pd.DataFrame:
    """The records that can be matched (those with a ``cell_key``), indexed by their identity, the
    last of each (:func:`suite.analysis.tables.record_identity`)."""
    identity = analysis.record_identity(records)
    frame = records[identity.notna()]
    frame = frame.set_axis(pd.Index(identity[identity.notna()].to_numpy(), name="identity"), axis=0)
    return frame[~frame.index.duplicated(keep="last")]


def probe_mask(records: pd.DataFrame) -> pd.Series:
    """Per record: whether it is a max-len probe (:func:`suite.records.schema.is_max_len_probe`)."""
    return records["train_config"].map(lambda config: is_max_len_probe({"train_config": config})).astype(bool)


def cell_head(record, identity) -> str:
    """A cell's label without its seed: model, task (or kind), training length, ``@eval_len``."""
    kind = record["kind"]
    what = {"accuracy": record["task"], "speed": f"speed {record.get('scope')}"}.get(kind, kind)
    if kind == "perf" and is_max_len_probe(record):
        what = "max-len probe"
    seq_len = record.get("seq_len")
    length = "" if pd.isna(seq_len) or seq_len <= 0 else f" T={int(seq_len)}"
    at = scored_at(identity)
    return f"{record['model']} {what}{length}" + (f" @{at}" if at else "")


def seed_text(record) -> str:
    return "" if pd.isna(record.get("seed")) else f"seed={int(record['seed'])}"


def config_facts(record) -> dict:
    """The values that configure a cell beyond its label, flattened: ``{(field, "options.headdim"): "32"}``."""
    facts = {("", "batch_size"): "-" if pd.isna(record.get("batch_size")) else str(int(record["batch_size"]))}

    def walk(field_name, value, path):
        if isinstance(value, dict) and value:
            for name in sorted(value, key=str):
                walk(field_name, value[name], path + (str(name),))
        elif path:
            facts[(field_name, ".".join(path))] = (
                value
                if isinstance(value, str)
                else json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
            )

    for name in CONFIG_FIELDS:
        walk(name, record.get(name), ())
    return facts


class Labels:
    """The label of every record (and seed group) of the runs compared, the same on both sides.

    A cell reads ``model task T=<train length> [@<eval length>] seed=N``; where cells of one such
    label differ in their configuration (a width or layer sweep, a task-parameter grid, a
    learning-rate sweep, another batch), the values that differ are added in brackets."""

    def __init__(self, *frames: pd.DataFrame):
        heads, self.group_of, self._cells = {}, {}, {}
        for frame in frames:
            for identity, record in frame.iterrows():
                if identity in self.group_of:
                    continue
                group = group_key(record, identity)
                self.group_of[identity] = group
                heads.setdefault(group, (cell_head(record, identity), record))
                self._cells[identity] = record
        self._groups = distinct_heads(heads)
        labels = {
            identity: " ".join(filter(None, (self._groups[self.group_of[identity]], seed_text(record))))
            for identity, record in self._cells.items()
        }
        alike = pd.Series(list(labels.values())).value_counts()
        # the same configuration, seed and length under two cell keys: the key tells them apart
        self._labels = {
            identity: label if alike[label] == 1 else f"{label} cell={identity}" for identity, label in labels.items()
        }

    def cell(self, identity) -> str:
        return self._labels[identity]

    def group(self, identity, seeds: int) -> str:
        """The label of ``identity``'s seed group when ``seeds`` of its seeds are compared."""
        head = self._groups[self.group_of[identity]]
        return (
            f"{head} ({seeds} seeds)" if seeds > 1 else " ".join(filter(None, (head, seed_text(self._cells[identity]))))
        )


def distinct_heads(heads: dict) -> dict:
    """``{group: (head, record)}`` → ``{group: label}``: heads shared by several groups gain, in
    brackets, the configuration values that differ between those groups."""
    by_head = {}
    for group, (head, _) in heads.items():
        by_head.setdefault(head, []).append(group)
    labels = {}
    for head, groups in by_head.items():
        if len(groups) == 1:
            labels[groups[0]] = head
            continue
        facts = {group: config_facts(heads[group][1]) for group in groups}
        names = list(dict.fromkeys(name for group in groups for name in facts[group]))
        differing = [name for name in names if len({facts[group].get(name, "-") for group in groups}) > 1]
        for group in groups:
            shown = dict.fromkeys(f"{name[1]}={facts[group].get(name, '-')}" for name in differing)
            labels[group] = f"{head} [{', '.join(shown)}]" if shown else head
    return labels


def cell_order(label) -> str:
    """A sort key of a cell label: numbers zero-padded, ``@<eval_len>`` after the training length."""
    return re.sub(r"\d+", lambda number: number.group().zfill(12), str(label)).replace(" @", " \x7f@")


def unmatched(base: pd.DataFrame, cur: pd.DataFrame, labels: Labels) -> tuple[list, list, int]:
    """The labels of the records only ``base`` has and only ``cur`` has (both indexed by identity,
    see :func:`keyed`), in label order, and how many max-len probes only one of them has (not listed)."""
    only_base = [key for key in base.index if key not in cur.index]
    only_cur = [key for key in cur.index if key not in base.index]
    missing = sorted((labels.cell(k) for k in only_base if not is_max_len_probe(base.loc[k])), key=cell_order)
    new = sorted((labels.cell(k) for k in only_cur if not is_max_len_probe(cur.loc[k])), key=cell_order)
    return missing, new, len(only_base) + len(only_cur) - len(missing) - len(new)


__all__ = ["Labels", "keyed", "group_key", "probe_mask", "cell_order", "unmatched"]
