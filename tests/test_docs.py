"""The documentation holds together: every relative link in README.md and docs/**/*.md
resolves to a file or folder of the repository, the README stays short, it shows the report's
screenshot (which scripts/screenshot-report regenerates), and docs/index.md lists every page."""

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 150

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\"|\s+'[^']*')?\s*\)")
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", re.MULTILINE)
EXTERNAL = ("http://", "https://", "mailto:")


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


def link_targets(markdown: str) -> list[str]:
    """Targets of the inline links and images (``[..](t)``, ``![..](t)``) and reference
    definitions (``[id]: t``) in ``markdown``; code blocks and code spans are not links."""
    text = FENCE.sub("", markdown)
    text = INLINE_CODE.sub("code", text)
    targets = INLINE_LINK.findall(text) + REFERENCE_DEF.findall(text)
    return [target[1:-1] if target.startswith("<") else target for target in targets]


def local_path(target: str) -> str | None:
    """The path part of a relative link, or None for external and same-page links."""
    if target.startswith(EXTERNAL) or target.startswith("#"):
        return None
    return unquote(target.split("#", 1)[0])


def broken_links(md_file: Path, root: Path = ROOT) -> list[str]:
    broken = []
    for target in link_targets(md_file.read_text(encoding="utf-8")):
        path = local_path(target)
        if path is None:
            continue
        resolved = root / path.lstrip("/") if path.startswith("/") else md_file.parent / path
        if not resolved.exists():
            broken.append(f"{md_file.relative_to(root)}: {target}")
    return broken


def test_every_relative_link_resolves():
    files = doc_files()
    assert (ROOT / "docs" / "index.md") in files
    broken = [problem for md_file in files for problem in broken_links(md_file)]
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines, at most {README_MAX_LINES}"


def test_readme_shows_the_report_screenshot():
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", (ROOT / "README.md").read_text(encoding="utf-8"))
    pngs = [image for image in images if image.startswith("docs/") and image.endswith(".png")]
    assert pngs, f"README.md embeds no PNG under docs/ (images: {images})"
    assert all((ROOT / png).is_file() for png in pngs)


def test_the_readme_screenshot_is_of_the_committed_example():
    """docs/report.png is made by scripts/screenshot-report from reports/examples/cpu-default, which
    stamps the run it shows into the PNG: a regenerated example needs a regenerated picture."""
    from PIL import Image

    example = ROOT / "reports" / "examples" / "cpu-default"
    with Image.open(ROOT / "docs" / "report.png") as image:
        shown = dict(image.text)
    assert shown.get("suite-run-id") == json.loads((example / "manifest.json").read_text())["run_id"], (
        "docs/report.png shows another run: .venv/bin/python scripts/screenshot-report"
    )
    assert shown.get("suite-records-sha256") == hashlib.sha256((example / "records.jsonl").read_bytes()).hexdigest()


def test_the_index_lists_every_page():
    index = ROOT / "docs" / "index.md"
    listed = {
        (index.parent / path).resolve()
        for path in filter(None, map(local_path, link_targets(index.read_text(encoding="utf-8"))))
    }
    pages = {page.resolve() for page in (ROOT / "docs").glob("**/*.md") if page != index}
    missing = sorted(str(page.relative_to(ROOT)) for page in pages - listed)
    assert not missing, f"docs/index.md does not list: {missing}"


def test_the_link_check_finds_planted_broken_links(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "there.md").write_text("# there\n")
    (tmp_path / "pic.png").write_bytes(b"")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "[ok](there.md) [ok with anchor](there.md#there) ![ok image](../pic.png) [ok folder](../docs/)\n"
        "[root-relative](/docs/there.md) [web](https://example.org/missing) [mail](mailto:a@b.c)\n"
        '[anchor](#somewhere) [titled](there.md "Title")\n'
        "[broken](missing.md) ![broken image](../missing.png) [broken anchor](gone.md#x)\n"
        "[ref]: nowhere/file.md\n"
        "`[in code](not-checked.md)`\n"
        "```\n[in a fence](not-checked-either.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page, root=tmp_path) == [
        "docs/page.md: missing.md",
        "docs/page.md: ../missing.png",
        "docs/page.md: gone.md#x",
        "docs/page.md: nowhere/file.md",
    ]


@pytest.mark.browser
def test_the_screenshot_script_writes_the_first_screen(tmp_path):
    chromium = os.environ.get("SUITE_CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        pytest.skip("no Chromium found (install the Debian package `chromium`, as .ci/run does, or set SUITE_CHROMIUM)")
    pytest.importorskip("playwright.sync_api", reason="playwright is in the test extras: pip install -e '.[test]'")
    png = tmp_path / "shot.png"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "screenshot-report"),
            "--out",
            str(png),
            "--width",
            "640",
            "--height",
            "480",
            "--chromium",
            chromium,
        ],
        check=True,
        timeout=300,
    )
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (640, 480)
