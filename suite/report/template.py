"""The page skeleton and stylesheet of the HTML report: everything inline, no
external CSS, JavaScript, fonts or network requests."""
from string import Template

STYLESHEET = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1280px;
       padding: 1em 2em 4em; color: #1a1a1a; line-height: 1.4; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.6em 0; }
th, td { border: 1px solid #d0d0d0; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.status, span.status { color: #a40000; font-weight: 600; }
td.error { font-family: ui-monospace, monospace; font-size: 0.9em; max-width: 42em; word-break: break-word; }
table.facts th { text-align: right; width: 14em; }
.banner { border: 2px solid #c77700; background: #fff4e0; padding: 0.6em 1em; margin: 1em 0; }
.banner.bad { border-color: #a40000; background: #fde8e8; }
.banner ul { margin: 0.3em 0 0; }
.nodata { color: #777; font-style: italic; }
.note { color: #555; font-size: 0.9em; }
img { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
details > summary { cursor: pointer; color: #333; margin: 0.4em 0; }
code { font-family: ui-monospace, monospace; }
"""

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>$title</title>
<style>$stylesheet</style>
</head>
<body>
$body
</body>
</html>
""")


def render_page(title: str, body: str) -> str:
    """The whole document; ``title`` must already be HTML-escaped, ``body`` is HTML."""
    return PAGE.substitute(title=title, stylesheet=STYLESHEET, body=body)
