"""A plain notice template (text and bare variables) is filled in without
Django's renderer, and says exactly what Django's renderer would."""

import pytest
from django.template import Context
from django.utils.safestring import mark_safe

from notifications import templating

CONTEXT = {
    "customer": {
        "name": "Anna <b>& Co</b>",
        "account_number": "ACC-1",
        "location": "Moscow",
        "count": 3,
        "safe": mark_safe("<i>kept</i>"),
        "empty": "",
    },
    "start_at": "2026-12-01 10:00 UTC",
    "end_at": "",
}

SOURCES = [
    "Dear {{ customer.name }}, account {{ customer.account_number }}.",
    "Works at {{ customer.location }} from {{ start_at }} to {{ end_at }}",
    "{{ customer.name }}{{ customer.name }}",
    "No variables at all",
    "",
    "Missing {{ customer.nothing }} and {{ nothing.at.all }}",
    "A number {{ customer.count }}",
    "Safe {{ customer.safe }} and empty [{{ customer.empty }}]",
    "Filtered {{ customer.name|upper }}",
    "Literal {{ 'quoted' }}",
    "{% if customer.name %}Tagged {{ customer.name }}{% endif %}",
    "Deeper {{ customer.name.upper }}",
]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("autoescape", [False, True])
def test_a_template_says_what_djangos_renderer_says(source, autoescape):
    template = templating.ENGINE.from_string(source)
    expected = template.render(Context(CONTEXT, autoescape=autoescape))
    assert templating._fill(template, CONTEXT, autoescape=autoescape) == expected


def test_only_text_and_bare_variables_take_the_short_way():
    plain = templating.ENGINE.from_string("Dear {{ customer.name }}, {{ start_at }}.")
    assert templating._plain_parts(plain) == (
        "Dear ",
        ("customer", "name"),
        ", ",
        ("start_at",),
        ".",
    )
    for source in ("{{ customer.name|upper }}", "{% if x %}y{% endif %}", "{{ 'quoted' }}"):
        assert templating._plain_parts(templating.ENGINE.from_string(source)) is None


@pytest.mark.parametrize(
    "text",
    [
        "One line",
        "Line one\nline two",
        "Para one\n\nPara two\n\n\n\nPara three",
        "Windows\r\nline\r\n\r\nends\rand old Mac ones",
        "<script>alert('x')</script> & \"quotes\"",
        "",
        "\n\nleading and trailing\n\n",
    ],
)
def test_a_text_body_becomes_the_html_djangos_linebreaks_makes(text):
    from django.utils.html import linebreaks

    assert templating._paragraphs(text) == linebreaks(text, autoescape=True)
