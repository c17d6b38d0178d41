"""The one place that knows the record schema.

A record is a flat JSON object, one per cell, appended to ``records.jsonl``.
Every record has every field of :data:`COMMON_FIELDS` and of its kind's
metric fields (``None`` where a value does not apply or was not measured).

Units are in the names: ``*_bytes``, ``*_ms_*``, ``*_per_s``, ``wall_s``.

Fields
------
schema_version   int, :data:`SCHEMA_VERSION`
run_id           str, one per ``suite run``
cell_key         str, stable hash of (kind, model, task, seq_len, batch, seed, config)
kind             "accuracy" | "perf" | "speed" | "max_len"
model            the spec as asked (``mingru``, ``gru:loop``)
family           the family part of the spec
family_version   the family's version (``suite.registry``: a module's ``VERSION``, a plugin's
                 ``version=``), bumped when its maths changes; None where the family is not
                 registered (a copy in ``bench speed``'s scan scope) or in records from before (v7)
backend          what actually ran (``log``, ``cudnn``, ``loop``, ``reference-torch``,
                 ``mamba_ssm-cuda+causal_conv1d``, ``sdpa-flash``, ``sdpa-math+window16``, ...); a mixed stack
                 (family ``stack``, its layers in ``model_config["layers"]``) names one per layer,
                 bottom first, joined by ``+`` when they differ
task             task name (perf cells: None — random tokens over ``task_params["vocab_size"]``)
task_params      dict of the task's parameters
task_version     the task's version, bumped when its generator or scoring changes (None: no task)
seq_len          tokens per sequence; for accuracy cells the training length (``eval_len`` is
                 the length scored)
batch_size       sequences per step
seed             int
dtype            "float32" | "bfloat16-autocast" | "float64"
torch_threads    ``torch.get_num_threads()`` while the cell ran
device           "cpu" | "cuda:0"
device_name      CPU model or GPU name
status           one of :data:`STATUSES`
error            one line, or None
params           number of parameters
state_bytes      analytic recurrent state / KV cache after seq_len tokens, batch 1
positional_encoding  how the model knows positions: ``rotary`` (transformer), ``none`` (the
                 recurrent families: order comes from the recurrence itself)
model_config     dict (d_model, n_layers, family options)
train_config     dict (steps, lr, warmup, ...)
wall_s           seconds the whole cell took
torch_version, git_commit, hostname, preset, timestamp
                 (``hostname``: the machine the cell ran on, which under Ray or Slurm is a
                 worker node, not the driver)
executor         how the cell was run: ``local``, ``local --jobs N``, ``ray``, ``slurm``
cuda_visible_devices  the ``CUDA_VISIBLE_DEVICES`` the cell's process saw (the GPU it was
                 pinned to), or None
tf32, deterministic, fill_uninitialized_memory
                 the numerics in force while the cell ran (``suite.measure.timing.apply_numerics``):
                 TF32 for fp32 matmuls/cuDNN, deterministic algorithms, NaN-filled ``torch.empty``
plugin           None when the cell's model family and task are built in; else
                 ``{"model": origin, "task": origin}``, each side the ``{"path", "sha256"}`` (resolved
                 path, SHA-256 of its bytes) of the ``--plugin`` file that registered it, or None
                 for a built-in side (``suite.registry.plugin_provenance``)

Accuracy cells add :data:`ACCURACY_FIELDS` (a language-model task's cells, ``objective`` ``"lm"``,
fill their loss fields, and a task on real data names its data); perf cells of ``suite run``
:data:`PERF_FIELDS`; the timings of ``suite bench speed`` (kind ``"speed"``, one
record per subject, scope and length: a mixer or whole model timed interleaved
with the others, or a scan's bandwidth) :data:`SPEED_FIELDS`; out-of-memory
boundaries (``run --find-max-len``) :data:`MAX_LEN_FIELDS`, with the probes
behind them stored as perf records whose ``train_config`` has
``"probe": "max_len"``.

Metric fields are numbers (or None) unless named in :data:`NON_NUMERIC_FIELDS`;
:data:`NUMERIC_FIELDS` is derived from that rule, so a new numeric field is
declared once, in its kind's list.

A record with status ``error`` may also carry ``error_traceback`` (a short
traceback, for debugging; not part of any comparison).

Records written by older versions are brought to this shape when read
(:func:`suite.records.store.upgrade`).
"""

from __future__ import annotations

SCHEMA_VERSION = 9
# 9: perf: decode_method (the headline decode figures are a CUDA graph's replays or the eager loop's), both
#    methods' medians (decode_ms_per_token_eager/_graph, decode_ms_per_token_batch1_eager/_graph) and
#    decode_graph_reason; an older perf record decoded eagerly
# 8: accuracy: objective ("accuracy", or "lm" for a language model); a language model's test loss and its
#    error (test_loss, test_loss_se, test_loss_ci_low/high), bits_per_char, loss_by_position, the recall split
#    (recall_ngram, recall_fraction, recall_loss, other_loss), best_valid_loss, target_loss, lr_valid_loss; the
#    data of a real-data task (dataset, dataset_version, dataset_sha256, dataset_licence, split_chars, split_images)
# 7: one name per number: speed's median_ms/repeats are train_step_ms/timing_repeats (as perf's); accuracy's
#    train_steps is steps_trained, train_len is seq_len; the raw timings (train_step_raw_ms, prefill_raw_ms,
#    decode_raw_ms, decode_batch1_raw_ms); family_version and task_version in every record
# 6: accuracy: the wall-clock stop is a guard, not a budget: time_limit_s and stop_reason time_limit replace
#    time_budget_s/time_budget (time_budget_key dropped), cut_by_time; the host's load around training
#    (load_avg_before/after, other_busy_cores, train_time_noisy, train_time_noisy_reason)
# 5: accuracy: early stopping (stop_reason, steps_trained, max_steps, best_step, best_valid_accuracy, still_rising,
#    patience, min_delta, time_budget_s, seconds_to_target, max_steps_key, time_budget_key), task_diagnostics;
#    valid_curve entries gain the training seconds: [step, train seconds, accuracy]
# 4: plugin; kind "speed" (SPEED_FIELDS) for `bench speed`;
#    perf loses scope, median_ms, repeats, bytes_per_s, copy_bytes_per_s;
# 3: tf32, deterministic, fill_uninitialized_memory; perf: min_ms, prefill/decode_iqr_ms, load, timing_noisy;
# 2: positional_encoding; accuracy: train_len, eval_len, last_accuracy, lr, ...;
#    perf: scope, median_ms, iqr_ms, repeats, bytes_per_s, copy_bytes_per_s

STATUSES = ("ok", "oom", "error", "timeout", "nan", "skipped")

COMMON_FIELDS = (
    "schema_version",
    "run_id",
    "cell_key",
    "kind",
    "model",
    "family",
    "family_version",
    "backend",
    "task",
    "task_params",
    "task_version",
    "seq_len",
    "batch_size",
    "seed",
    "dtype",
    "torch_threads",
    "device",
    "device_name",
    "status",
    "error",
    "params",
    "state_bytes",
    "positional_encoding",
    "model_config",
    "train_config",
    "wall_s",
    "torch_version",
    "git_commit",
    "hostname",
    "preset",
    "timestamp",
    "executor",
    "cuda_visible_devices",
    "tf32",
    "deterministic",
    "fill_uninitialized_memory",
    "plugin",
)

ACCURACY_FIELDS = (
    "accuracy",  # fraction of scored test tokens predicted exactly
    "accuracy_ci_low",  # Wilson 95% interval of accuracy
    "accuracy_ci_high",
    "n_scored",  # scored test tokens
    "chance_accuracy",  # the task's chance level
    "seq_accuracy",  # fraction of test sequences with every scored token right
    "final_loss",  # mean training loss over the last steps
    "train_s",  # seconds spent training
    "eval_len",  # tokens per test sequence these metrics come from (= seq_len, the training length, unless
    # --eval-lens)
    "last_accuracy",  # accuracy at the last scored position of each test sequence (running
    # state-tracking tasks: the state after all eval_len tokens)
    "lr",  # the peak learning rate of the weights scored
    "lr_valid_accuracy",  # --lrs: {lr: accuracy on the validation stream at seq_len}; the best is kept
    # early stopping on the validation stream (suite.measure.train):
    "stop_reason",  # target | plateau | max_steps | time_limit: why training stopped
    "steps_trained",  # optimizer steps taken
    "max_steps",  # the step budget
    "best_step",  # the step of the best validation accuracy (a language model: loss): the weights scored on the
    # test stream
    "best_valid_accuracy",  # that validation accuracy (None for a language model: best_valid_loss)
    "still_rising",  # at the stop, validation had improved by > min_delta within the last patience evaluations
    "eval_every",  # optimizer steps between two validation evaluations
    "patience",  # evaluations without an improvement > min_delta that stop training (plateau)
    "min_delta",  # the smallest validation improvement that counts
    "target_accuracy",  # the validation accuracy that stops training early (None: none)
    "time_limit_s",  # a guard: the training seconds that cut it (None: none; see suite.measure.train)
    "cut_by_time",  # True: the guard cut training, so the result depends on the machine's speed and
    # load; kept out of every verdict
    "steps_to_target",  # the first evaluated step whose validation accuracy >= target (a language model: loss
    # <= target_loss) (None: never)
    "seconds_to_target",  # the training seconds at that evaluation
    "valid_curve",  # [[step, train seconds, validation accuracy], ...] at every evaluation (a language
    # model: validation loss)
    "max_steps_key",  # the --set key of this cell's step budget (train_steps, task_train.<task>.train_steps)
    "task_diagnostics",  # measured facts about the task's regime at eval_len (tasks.base.Task.diagnostics)
    "load_avg_before",  # the host's 1-minute load average before and after training (suite.measure.timing)
    "load_avg_after",
    "other_busy_cores",  # cores other processes kept busy meanwhile (/proc/stat), None where unreadable
    "train_time_noisy",  # True: a loaded host, so train_s and the seconds to target are slowed; steps and
    # accuracies are not affected
    "train_time_noisy_reason",  # why, in words; None when not noisy
    "objective",  # what training optimised: "accuracy" (scored positions right) or "lm" (next-token loss over
    # every position; early stopping on validation loss: valid_curve entries are [step, train seconds, loss])
    # language models (objective "lm", suite.measure.lm_metrics); None for every other cell:
    "test_loss",  # mean test cross-entropy, nats per token (a character for char-lm), over every position
    "test_loss_se",  # its standard error over the test windows
    "test_loss_ci_low",  # test_loss -/+ 1.96 test_loss_se
    "test_loss_ci_high",
    "bits_per_char",  # test_loss / ln 2
    "loss_by_position",  # [mean test loss at position 0, 1, ..., eval_len - 1], 4 decimals
    "recall_ngram",  # n of the recall split: a recall token's n characters and next character occurred earlier
    # in its window
    "recall_fraction",  # the share of test positions that are recall tokens
    "recall_loss",  # mean test loss on recall tokens (None: none)
    "other_loss",  # mean test loss on every other position (None: none)
    "best_valid_loss",  # the lowest validation loss: the weights scored on the test stream
    "target_loss",  # the validation loss that stops training early (None: none)
    "lr_valid_loss",  # --lrs: {lr: best validation loss}; the lowest is kept
    # a task on real data (tasks.base.Task.data_fields); None for synthetic tasks:
    "dataset",  # the data set's name (suite.data), or the file name of a text file given as the corpus
    "dataset_version",  # its version, as the data set names it ("file" for a text file given as the corpus)
    # (the sha256 says which file it was)
    "dataset_sha256",  # the sha256 of the data the task read
    "dataset_licence",  # its licence
    "split_chars",  # char-lm: {"train": [start, end], "valid": [...], "test": [...]} in characters
    "split_images",  # seq-fashion-mnist: {"train": "<file>[start:end]", ...}, the images of each split
)

PERF_FIELDS = (
    "train_tokens_per_s",  # tokens per second of a full training step (fwd+loss+bwd+optimizer)
    "train_step_ms",  # median milliseconds of that step
    "train_step_raw_ms",  # every timed repeat of that step, in milliseconds, in the order timed
    "prefill_tokens_per_s",  # tokens per second of a parallel forward that returns the state
    "prefill_raw_ms",  # every timed prefill, in milliseconds (batch * seq_len tokens each)
    "decode_ms_per_token",  # median ms of one greedy step() after prefilling seq_len, batch B, by decode_method
    "decode_raw_ms",  # every timed decode run's milliseconds per token, batch B
    "decode_ms_per_token_batch1",  # the same at batch 1
    "decode_batch1_raw_ms",  # its every timed run, milliseconds per token
    # how the decode figures above (and decode_iqr_ms) were timed: "cuda_graph" (replays of the decode
    # captured in a CUDA graph) or "eager" (a Python loop of step() calls; always on a CPU); see
    # suite.measure.decode_graph
    "decode_method",
    "decode_ms_per_token_eager",  # the eager loop's median, batch B and batch 1, whatever decode_method is
    "decode_ms_per_token_batch1_eager",
    "decode_ms_per_token_graph",  # the CUDA graph's median, batch B and batch 1; None where not captured
    "decode_ms_per_token_batch1_graph",
    "decode_graph_reason",  # why decode_method is "eager" (not CUDA, the capture's error, tokens that
    # differ from eager's), else None
    "train_peak_mem_bytes",  # peak memory of the phase above its starting level
    "prefill_peak_mem_bytes",
    "decode_peak_mem_bytes",
    "train_peak_reserved_bytes",  # CUDA only: the caching allocator's reserved peak, same way
    "prefill_peak_reserved_bytes",
    "decode_peak_reserved_bytes",
    "peak_mem_method",  # how memory was measured (see suite.measure.memory)
    "timing_repeats",  # timed repeats of the train step (the length of train_step_raw_ms)
    # the spread of the train step's timings (suite.measure.timing); its median is train_step_ms:
    "iqr_ms",  # their inter-quartile range (75th - 25th percentile)
    "min_ms",  # the fastest repeat
    "prefill_iqr_ms",  # `suite run`: IQR of the prefill and of the decode steps
    "decode_iqr_ms",
    "load_avg_before",  # the host's 1-minute load average before and after the timed phases
    "load_avg_after",
    "other_busy_cores",  # cores other processes kept busy meanwhile (/proc/stat), None where unreadable
    "timing_noisy",  # True: a spread above 10%, too few repeats, or a loaded host (see suite.measure.timing)
    "timing_noisy_reason",  # why, in words; None when not noisy
    # energy (see suite.measure.energy); None where not measured, with the reason:
    "energy_backend",  # "nvml" | "rapl" | None (no counter read)
    "energy_reason",  # why the energy fields are None (no counter, not requested ...), else None
    "idle_watts",  # power of the idle board/package, measured before and subtracted
    "train_joules_per_token",  # energy of a training step above idle / (batch * seq_len)
    "decode_joules_per_token",  # energy of greedy decode steps above idle / (batch * decoded tokens)
)

SPEED_FIELDS = (  # `suite bench speed` (see suite.measure.speed)
    "scope",  # "mixer" | "model" (forward+loss+backward, no optimizer) | "scan" (scan forward)
    # the timed step is the scope's: a training step without the optimizer (mixer, model) or a scan's
    # forward (scan); one name per number with perf records
    "train_step_ms",  # median of the timed steps
    "train_step_raw_ms",  # every timed step, in milliseconds, in the order timed
    "iqr_ms",  # their inter-quartile range (75th - 25th percentile)
    "min_ms",  # the fastest step
    "timing_repeats",  # timed steps behind the median
    "train_tokens_per_s",  # scopes "mixer" and "model": batch * seq_len / median time
    "bytes_per_s",  # scope "scan": (bytes read + bytes written) / median time
    "copy_bytes_per_s",  # scope "scan": a device copy of the same bytes, timed in the same run
    "load_avg_before",  # the host's 1-minute load average before and after the subject's group
    "load_avg_after",
    "other_busy_cores",  # cores other processes kept busy meanwhile (/proc/stat), None where unreadable
    "timing_noisy",  # True: a spread above 10%, too few repeats, or a loaded host (see suite.measure.timing)
    "timing_noisy_reason",  # why, in words; None when not noisy
)

MAX_LEN_FIELDS = (
    "max_seq_len",  # largest power-of-two length whose perf probe finished ok (None: not even the first)
    "first_failing_len",  # the first length that did not (None: every length up to the limit fitted)
    "first_failing_status",  # its status: oom, timeout, error ...
    "first_failing_error",  # its one-line error
    "mem_limit_bytes",  # the memory cap the probes ran under (None: the machine's)
)

KINDS = {"accuracy": ACCURACY_FIELDS, "perf": PERF_FIELDS, "speed": SPEED_FIELDS, "max_len": MAX_LEN_FIELDS}

# Every field of every kind, each once, in schema order.
ALL_FIELDS = tuple(dict.fromkeys(COMMON_FIELDS + tuple(name for fields in KINDS.values() for name in fields)))

# The metric fields that are not numbers: text, flags, dicts and lists. Every other metric field is a
# number or None, and so are the common fields of COMMON_NUMERIC_FIELDS.
NON_NUMERIC_FIELDS = frozenset(
    {
        "lr_valid_accuracy",
        "lr_valid_loss",
        "loss_by_position",
        "objective",
        "dataset",
        "dataset_version",
        "dataset_sha256",
        "dataset_licence",
        "split_chars",
        "split_images",
        "valid_curve",
        "stop_reason",
        "still_rising",
        "max_steps_key",  # accuracy
        "cut_by_time",
        "task_diagnostics",
        "train_time_noisy",
        "train_time_noisy_reason",
        "peak_mem_method",
        "timing_noisy",
        "timing_noisy_reason",
        "energy_backend",
        "energy_reason",
        "decode_method",
        "decode_graph_reason",  # perf
        "scope",  # speed
        "first_failing_status",
        "first_failing_error",  # max_len
        # raw timings: lists of milliseconds (read with suite.analysis.speed_gate)
        "train_step_raw_ms",
        "prefill_raw_ms",
        "decode_raw_ms",
        "decode_batch1_raw_ms",
    }
)
RAW_TIMING_FIELDS = ("train_step_raw_ms", "prefill_raw_ms", "decode_raw_ms", "decode_batch1_raw_ms")
COMMON_NUMERIC_FIELDS = (
    "seq_len",
    "batch_size",
    "seed",
    "torch_threads",
    "params",
    "state_bytes",
    "wall_s",
    "family_version",
    "task_version",
)
NUMERIC_FIELDS = COMMON_NUMERIC_FIELDS + tuple(
    name for name in ALL_FIELDS if name not in COMMON_FIELDS and name not in NON_NUMERIC_FIELDS
)

# energy_reason of a perf cell whose preset did not ask for energy at its length (suite.measure.energy)
ENERGY_NOT_REQUESTED = "not measured: the preset does not ask for energy at this length"


def is_max_len_probe(record) -> bool:
    """A perf record of ``run --find-max-len``'s search (one length it probed): its ``train_config``
    has ``"probe": "max_len"``."""
    train_config = record.get("train_config")
    return isinstance(train_config, dict) and train_config.get("probe") == "max_len"


def blank_record(kind: str) -> dict:
    """A record with every field of ``kind`` present and set to ``None``."""
    record = dict.fromkeys(COMMON_FIELDS + KINDS[kind])
    record["schema_version"] = SCHEMA_VERSION
    record["kind"] = kind
    return record


def validate(record: dict) -> list[str]:
    """Problems with ``record`` (empty when it is well formed)."""
    problems = []
    kind = record.get("kind")
    if kind not in KINDS:
        return [f"kind {kind!r} is not one of {sorted(KINDS)}"]
    missing = [name for name in COMMON_FIELDS + KINDS[kind] if name not in record]
    if missing:
        problems.append(f"missing fields: {', '.join(missing)}")
    if record.get("status") not in STATUSES:
        problems.append(f"status {record.get('status')!r} is not one of {STATUSES}")
    if record.get("status") == "ok" and not record.get("backend"):
        problems.append("an ok record must name its backend")
    if kind == "accuracy" and record.get("status") == "ok":
        for name in ("seq_len", "eval_len"):  # eval_len is None in records written before it existed
            if record.get(name) is not None and (not isinstance(record[name], int) or record[name] <= 0):
                problems.append(f"{name} must be a positive integer, got {record[name]!r}")
        accuracy = record.get("accuracy")
        if not isinstance(accuracy, (int, float)) or not 0 <= accuracy <= 1:
            problems.append(f"accuracy must be in [0, 1], got {accuracy!r}")
    return problems
