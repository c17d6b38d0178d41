"""The generated report in a real browser (headless Chromium through Playwright):
no console errors, every figure decodes, the records table has one row per
record and sorts on a header click, and a model name holding ``<script>`` shows
as text. Deselect with ``-m "not browser"``; skipped when Chromium is absent."""

import os
import shutil

import pytest

from suite.report import write_report

from tests.suite.report.test_report import synthetic_records, write_run

pytestmark = pytest.mark.browser
EVIL_MODEL = "evil<script>window.pwned=1</script>"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("SUITE_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium found (install the Debian package `chromium`, as .ci/run does, or set SUITE_CHROMIUM)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is in the test extras: pip install -e '.[test]'"
    )
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1366, "height": 900},
        )
        yield context
        context.close()


def test_report_in_a_browser(browser, tmp_path):
    records = synthetic_records()
    for record in records:
        if record["model"] == "transformer":
            record["model"] = EVIL_MODEL
    run_dir = write_run(tmp_path / "run", records)
    report = write_report(run_dir, tmp_path / "report.html")

    page = browser.new_page()
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "request",
        lambda request: (
            problems.append(f"network request: {request.url}")
            if not request.url.startswith(("file:", "data:"))
            else None
        ),
    )
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)

    assert problems == []
    widths = page.eval_on_selector_all("img", "images => images.map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) >= 6 and all(width > 0 for width in widths), widths

    rows = page.locator("table#records tbody tr")
    assert rows.count() == len(records)
    model_column = page.eval_on_selector_all(
        "table#records thead th", "headers => headers.map(h => h.textContent.trim())"
    ).index("model")
    read_models = (
        "() => Array.from(document.querySelectorAll('table#records tbody tr'))"
        f".map(r => r.cells[{model_column}].textContent)"
    )
    before = page.evaluate(read_models)
    page.locator("table#records thead th").nth(model_column).click()
    ascending = page.evaluate(read_models)
    assert ascending != before and ascending == sorted(before, key=str.lower)
    page.locator("table#records thead th").nth(model_column).click()
    assert page.evaluate(read_models) == ascending[::-1]

    assert page.evaluate("window.pwned") is None
    assert page.locator("table#records tbody td", has_text=EVIL_MODEL).count() > 0
    assert page.locator("script").count() == 1
    assert (tmp_path / "report.png").stat().st_size > 10_000
