"""portal/templating.py compiles the app's templates with two shortcuts (a block's output joined where it is
called; plain strings escaped straight to text). The page must stay the same text, escaping included:
every template here is rendered by stock Jinja and by the portal's code generator, with generated values of
every kind a view hands a template (hostile text, Markup, numbers, None, objects with __html__, lazy
strings), and the two must be identical."""

import decimal
from types import SimpleNamespace

import pytest
from flask import render_template_string
from flask_babel import lazy_gettext
from hypothesis import given, strategies as st
from jinja2 import DictLoader, Environment
from jinja2_fragments import render_block
from markupsafe import Markup

from portal import templating

TEMPLATES = {
    "layout.html": "<html><title>{% block title %}Care{% endblock %}</title>{% block content %}{% endblock %}"
                   "<footer title=\"{{ v }}\">{{ v }}</footer></html>",
    "middle.html": "{% extends 'layout.html' %}{% block content %}<main>{% block inner %}{{ v }}{% endblock %}"
                   "</main>{% endblock %}",
    "page.html": "{% extends 'middle.html' %}{% block title %}{{ v }} – {{ super() }}{% endblock %}"
                 "{% block inner %}{% block rows %}{% for x in items %}<li data-x=\"{{ x }}\">{{ x }} {{ loop.index }}"
                 "</li>{% else %}<li>none</li>{% endfor %}{% endblock %}{{ super() }}{% endblock %}",
    "macros.html": "{% macro cell(x) %}<td>{{ x }}{% if caller %}{{ caller() }}{% endif %}</td>{% endmacro %}",
    "included.html": "<i>{{ v }}</i>",
    "standalone.html": "{% block a %}{% from 'macros.html' import cell %}"
                       "{{ cell(v) }}{% call cell(v) %}[{{ v }}]{% endcall %}"
                       "{% set held %}<b>{{ v }}</b>{% endset %}{{ held }}|{{ held|length }}"
                       "{% block b scoped %}{% from 'macros.html' import cell %}"
                       "{% for x in items %}{{ cell(x) }}{% endfor %}{% endblock %}{% endblock %}"
                       "{% autoescape false %}{{ v }}{% endautoescape %}{% include 'included.html' %}"
                       "{{ v|e }}|{{ items|join(', ') }}|{{ v ~ '&' }}|{{ '<kept>'|safe }}{{ v if v else '<>' }}",
}


class Html:
    """An object that says how it is written in HTML (as a form field does)."""

    def __init__(self, text):
        self.text = text

    def __html__(self):
        return f"<span>{Markup.escape(self.text)}</span>"


texts = st.text(alphabet=st.sampled_from("ab<>&\"' %{}\u00e6\u00f8\u00e5\n"), max_size=12) | st.text(max_size=8)
values = st.one_of(
    texts,
    texts.map(Markup),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    texts.map(Html),
    texts.map(lambda text: type("Word", (str,), {})(text)),  # a subclass of str: escaped like one
)


def environment(portal: bool) -> Environment:
    env = Environment(loader=DictLoader(TEMPLATES), autoescape=True)
    if portal:
        templating.init_app(SimpleNamespace(jinja_env=env))
    return env


STOCK, PORTAL = environment(False), environment(True)


def test_the_portal_environment_really_uses_its_code_generator():
    assert PORTAL.code_generator_class is templating.PortalCodeGenerator
    source = PORTAL.compile(TEMPLATES["page.html"], raw=True)
    assert "escape_to_text(" in source and "yield concat(context.blocks" in PORTAL.compile(
        TEMPLATES["standalone.html"], raw=True)
    assert "escape_to_text(" not in STOCK.compile(TEMPLATES["page.html"], raw=True)


@pytest.mark.parametrize("name", ["page.html", "standalone.html", "middle.html"])
@given(v=values, items=st.lists(values, max_size=4))
def test_every_template_renders_the_same_text_as_stock_jinja(name, v, items):
    expected = STOCK.get_template(name).render(v=v, items=items)
    assert PORTAL.get_template(name).render(v=v, items=items) == expected


@given(v=values, items=st.lists(values, max_size=3))
def test_a_block_rendered_alone_for_htmx_is_the_same_text(v, items):
    for name, block in (("page.html", "rows"), ("middle.html", "inner"), ("standalone.html", "a"),
                        ("standalone.html", "b")):
        assert render_block(PORTAL, name, block, v=v, items=items) == render_block(STOCK, name, block, v=v,
                                                                                     items=items)


def test_hostile_text_is_escaped_in_text_and_attributes():
    page = PORTAL.get_template("page.html").render(v='"><script>alert(1)</script>', items=["<img onerror=x>"])
    assert "<script>" not in page and "<img" not in page
    assert 'data-x="&lt;img onerror=x&gt;"' in page and 'title="&#34;&gt;&lt;script&gt;' in page


@pytest.mark.parametrize("value, text", [
    ("<b>&'\"", "&lt;b&gt;&amp;&#39;&#34;"), (Markup("<b>kept</b>"), "<b>kept</b>"), (7, "7"), (True, "True"),
    (None, "None"), (decimal.Decimal("1.50"), "1.50"), (Html("<x>"), "<span>&lt;x&gt;</span>"),
])
def test_escape_to_text_writes_what_markupsafe_escape_writes(value, text):
    assert templating.escape_to_text(value) == text
    assert type(templating.escape_to_text(value)) in (str, Markup)


def test_the_apps_templates_translate_and_escape_what_they_format(app):
    """Templates' `_` (portal/i18n/languages.py) formats like Jinja's newstyle gettext: the catalog's text
    is markup, the values put into it are escaped, '%%' is '%'."""
    with app.test_request_context():
        assert app.jinja_env.code_generator_class is templating.PortalCodeGenerator
        page = render_template_string("{{ _('Welcome, %(name)s. Your password is set.', name=v) }}|"
                                      "{{ _('100%% sure') }}|{{ ngettext('%(num)d item', '%(num)d items', 2) }}|"
                                      "{{ label }}", v="<script>x</script>", label=lazy_gettext("<Yes>"))
    # A lazy string is catalog text: Flask-Babel gives it __html__, so it is written as markup (as stock Jinja does).
    assert page == "Welcome, &lt;script&gt;x&lt;/script&gt;. Your password is set.|100% sure|2 items|<Yes>"
