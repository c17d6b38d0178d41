"""suite.report.template: autoescaped jinja2 rendering and the page skeleton."""

from markupsafe import Markup

from suite.report.template import Section, fragment, render, render_page, section


def test_fragment_escapes_plain_strings_but_not_markup():
    assert str(fragment("<p>{{ x }}</p>", x="<script>")) == "<p>&lt;script&gt;</p>"
    assert str(fragment("<p>{{ x }}</p>", x=Markup("<b>ok</b>"))) == "<p><b>ok</b></p>"
    assert isinstance(fragment("{{ 1 + 1 }}"), Markup)


def test_section_renders_a_template_into_a_section():
    made = section(
        "demo", "Demo title", "table_section.html.j2", headers=["a"], rows=None, missing="nothing <here>", note=""
    )
    assert isinstance(made, Section)
    assert (made.id, made.title) == ("demo", "Demo title")
    assert "nothing &lt;here&gt;" in made.body
    assert render("figure.html.j2", png=None, alt="x", note="", missing="no figure") is not None


def test_render_page_drops_none_sections_and_escapes_the_title():
    page = render_page(
        "A <title>",
        [Section("one", "First section", Markup("<p>body one</p>")), None, Section("two", "Second", Markup(""))],
        header=Markup("<div id='hdr'>head</div>"),
    )
    assert "A &lt;title&gt;" in page
    assert "<p>body one</p>" in page and "First section" in page and "Second" in page
    assert "<div id='hdr'>head</div>" in page
    assert page.index("First section") < page.index("Second")
