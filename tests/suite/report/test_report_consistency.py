"""What a reader sees is consistent across the report: one colour per model in every figure, one
count of cells (plan entries) in the header, status table and summary, equal-compute headings that
name only their own task's parameters, and a verdicts table that fits the page with readable
settings instead of JSON."""

import html
import json
import re

import pytest
from matplotlib.colors import to_hex

from suite.analysis.tables import load_results
from suite.records.schema import blank_record
from suite.analysis.run_analysis import analyse
from suite.report import heatmap, plots, write_report
from suite.report.sections import compute, paper, question_figures
from suite.report.html import build_report_html
from tests.suite.report.test_report_browser import CHROMIUM_ARGS, chromium_path

ACCURACY_MODELS = ("transformer", "mingru", "lstm")
PERF_MODELS = ACCURACY_MODELS + ("gru:loop", "mamba")  # more models than the accuracy cells have
TASKS = {"mqar": {"num_kv_pairs": 4, "vocab_size": 32}, "selective-copy": {"num_data_tokens": 8, "vocab_size": 16}}
EVAL_LENS = (32, 64)
SKILL = {"transformer": 0.95, "mingru": 0.5, "lstm": 0.3}


def accuracy_records(model, task, seed=0, **params):
    """One trained cell scored at two evaluation lengths: two records sharing one cell key."""
    task_params = {**TASKS[task], **params}
    out = []
    for eval_len in EVAL_LENS:
        record = blank_record("accuracy")
        accuracy = SKILL[model] - (0.1 if eval_len > 32 else 0.0)
        record.update(
            run_id="colours",
            cell_key=f"acc|{model}|{task}|{seed}|{params}",
            model=model,
            family=model.split(":")[0],
            backend="b",
            task=task,
            task_params=task_params,
            seq_len=32,
            train_len=32,
            eval_len=eval_len,
            batch_size=4,
            seed=seed,
            status="ok",
            params=100,
            state_bytes=64,
            model_config={"d_model": 16, "n_layers": 2},
            train_config={"steps": 40},
            accuracy=accuracy,
            accuracy_ci_low=accuracy - 0.02,
            accuracy_ci_high=accuracy + 0.02,
            n_scored=500,
            chance_accuracy=0.0625,
            train_steps=40,
            train_s=1.0,
            lr=0.01,
            stop_reason="max_steps",
            still_rising=False,
            max_steps=40,
            steps_trained=40,
            max_steps_key="train_steps",
            time_budget_key="time_budget_s",
            eval_every=20,
            patience=2,
            min_delta=0.01,
            best_step=40,
            best_valid_accuracy=accuracy,
            target_accuracy=0.9,
            valid_curve=[[20, 0.5, accuracy / 2], [40, 1.0, accuracy]],
        )
        out.append(record)
    return out


def perf_record(model, seq_len, status="ok"):
    record = blank_record("perf")
    speed = 1.0 + PERF_MODELS.index(model)
    record.update(
        run_id="colours",
        cell_key=f"perf|{model}|{seq_len}",
        model=model,
        family=model.split(":")[0],
        backend="b",
        seq_len=seq_len,
        batch_size=4,
        seed=0,
        status=status,
        params=100,
    )
    if status == "ok":
        record.update(
            train_tokens_per_s=1e5 * speed / seq_len,
            train_step_ms=seq_len / speed,
            prefill_tokens_per_s=4e5 * speed / seq_len,
            decode_ms_per_token=1 / speed,
            decode_ms_per_token_batch1=0.5 / speed,
            train_peak_mem_bytes=2**20 * seq_len,
            prefill_peak_mem_bytes=2**18 * seq_len,
            decode_peak_mem_bytes=2**16,
            timing_repeats=5,
        )
    return record


def run_records():
    records = [r for model in ACCURACY_MODELS for task in TASKS for r in accuracy_records(model, task)]
    records += [perf_record(model, length) for model in PERF_MODELS for length in (64, 256)]
    records.append(perf_record("mamba", 1024, status="oom"))
    return records


def write(folder, records):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "manifest.json").write_text(json.dumps({"run_id": "colours", "preset": "tiny"}))
    return folder


def legend_colours(figure) -> dict:
    """Legend label -> hex colour of its handle, over the figure's and its axes' legends."""
    legends = list(figure.legends) + [axes.get_legend() for axes in figure.axes if axes.get_legend()]
    found = {}
    for legend in legends:
        for text, handle in zip(legend.get_texts(), legend.legend_handles):
            colour = handle.get_color() if hasattr(handle, "get_color") else handle.get_facecolor()
            found[text.get_text()] = to_hex(colour[0] if getattr(colour, "ndim", 1) == 2 else colour)
    return found


@pytest.fixture
def captured_figures(monkeypatch):
    """Every figure the report draws, kept (as matplotlib figures) while the page is built."""
    figures = []
    render = plots.figure_to_png_base64

    def keep(figure, *args, **kwargs):
        figures.append(figure)
        return render(figure, *args, **kwargs)

    for module in (plots, heatmap, question_figures, compute, paper):
        monkeypatch.setattr(module, "figure_to_png_base64", keep)
    return figures


def test_a_model_has_one_colour_in_every_figure_of_the_report(tmp_path, captured_figures):
    records = load_results(write(tmp_path / "run", run_records()))
    build_report_html(records, {"run_id": "colours"})
    seen: dict = {}
    figures_with_models = 0
    for figure in captured_figures:
        models = {label: colour for label, colour in legend_colours(figure).items() if label in PERF_MODELS}
        figures_with_models += bool(models)
        for label, colour in models.items():
            seen.setdefault(label, set()).add(colour)
    # accuracy curves, extrapolation, Pareto, seconds to target, throughput, decode, memory
    assert figures_with_models >= 7, figures_with_models
    assert set(seen) == set(PERF_MODELS)
    assert all(len(colours) == 1 for colours in seen.values()), seen
    assert len({next(iter(c)) for c in seen.values()}) == len(PERF_MODELS)  # and no two models share one


def test_the_palette_is_fixed_per_family_with_variants_as_shades():
    small, large = plots.model_palette(["transformer", "mingru"]), plots.model_palette(PERF_MODELS + ("gru",))
    assert small["transformer"] == large["transformer"] and small["mingru"] == large["mingru"]
    assert large["gru:loop"] != large["gru"]
    red, green, blue = (abs(a - b) for a, b in zip(large["gru:loop"], large["gru"]))
    assert max(red, green, blue) < 0.45  # a shade of gru's colour, not another hue
    unknown = plots.model_palette(["transformer", "brand-new", "other-new"])
    assert len(set(unknown.values())) == 3 and unknown["transformer"] == small["transformer"]


def failed_accuracy_records(model="mingru", task="mqar"):
    """A training that failed: one error record per evaluation length, all with one cell key."""
    return [
        dict(
            record,
            status="error",
            error="exploded in the scan",
            accuracy=None,
            accuracy_ci_low=None,
            accuracy_ci_high=None,
            cell_key=f"acc|{model}|{task}|failed",
        )
        for record in accuracy_records(model, task, seed=1)
    ]


def test_the_header_status_table_and_summary_count_cells_not_records(tmp_path):
    records = run_records() + failed_accuracy_records()
    cell_keys = {r["cell_key"] for r in records}
    assert len(records) > len(cell_keys)  # accuracy cells write one record per evaluation length
    page = write_report(write(tmp_path / "run", records)).read_text()
    header = re.sub(r"<[^>]+>", " ", page[: page.index("<h2")])
    ok = len(cell_keys) - 2
    assert re.search(rf"cells\s+{len(cell_keys)} \(ok {ok}/{len(cell_keys)}, oom 1, error 1\)", header), header
    assert re.search(rf"records\s+{len(records)} \(", header)
    status = page[page.index('<section id="status">') : page.index('<section id="summary">')]
    totals = [int(n) for n in re.findall(r'<td class="num">(\d+)</td></tr>', status)]
    assert sum(totals) == len(cell_keys)
    summary = page[page.index('<section id="summary">') : page.index('<section id="accuracy">')]
    headers = re.findall(r"<th>([^<]*)</th>", summary)
    rows = re.findall(r"<tr>(.*?)</tr>", summary[summary.index("<tbody>") :], re.DOTALL)
    column = headers.index("cells")
    counts = [int(re.findall(r"<td[^>]*>([^<]*)</td>", row)[column]) for row in rows]
    assert sum(counts) == len(cell_keys)
    not_ok = page[page.index('<section id="not-ok">') : page.index('<section id="records">')]
    assert not_ok.count('<td class="status">') == 2  # the failed training once, the oom perf cell once
    records_note = page[page.index('<section id="records">') :]
    assert f"{len(records)} records of {len(cell_keys)} cells" in records_note


def test_equal_compute_headings_name_only_their_own_tasks_parameters(tmp_path):
    more_pairs = [r for model in ("transformer", "mingru") for r in accuracy_records(model, "mqar", num_kv_pairs=8)]
    records = load_results(write(tmp_path / "run", run_records() + more_pairs))
    titles = sorted(group["title"] for group in compute.compute_groups(analyse(records)))
    # mqar's two variants differ in num_kv_pairs only; selective-copy has one variant: no parameters named,
    # and never another task's parameters (None in every mqar record)
    assert titles == [
        "mqar, trained at 32, num_kv_pairs=4",
        "mqar, trained at 32, num_kv_pairs=8",
        "selective-copy, trained at 32",
    ]


def test_the_verdicts_table_shows_readable_settings_and_opens_collapsed(tmp_path):
    page = html.unescape(write_report(write(tmp_path / "run", run_records())).read_text())
    verdicts = page[page.index('<section id="questions">') : page.index('<section id="compute">')]
    assert '{"' not in verdicts  # no raw JSON
    assert "d_model 16, 2 layers, lr 0.01" in verdicts and "num_kv_pairs=4, vocab_size=32" in verdicts
    assert "<details open" not in verdicts and "<details" in verdicts


@pytest.mark.browser
def test_no_table_is_wider_than_a_1280_pixel_page(tmp_path):
    """Every table, the verdicts opened, fits a 1280 px window at the default font."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium found (install the Debian package `chromium`, as .ci/run does, or set SUITE_CHROMIUM)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is in the test extras: pip install -e '.[test]'"
    )
    records = run_records() + [r for model in ACCURACY_MODELS for r in accuracy_records(model, "mqar", num_kv_pairs=8)]
    report = write_report(write(tmp_path / "run", records), tmp_path / "report.html")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            tables, page_width = _table_edges(browser.new_page(viewport={"width": 1280, "height": 900}), report)
        finally:
            browser.close()
    assert len(tables) > 8 and any(section == "questions" for section, _ in tables)
    assert [(section, right) for section, right in tables if right > 1280] == []
    assert page_width <= 1280


def _table_edges(page, report):
    """(section id, right edge in px) of every table with every <details> opened, and the page's width."""
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    tables = page.evaluate(
        "() => Array.from(document.querySelectorAll('table')).map(t => "
        "[t.closest('section') ? t.closest('section').id : 'header', t.getBoundingClientRect().right])"
    )
    return tables, page.evaluate("document.documentElement.scrollWidth")
