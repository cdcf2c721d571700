"""The only tags and filters a notification template may use: an allow-list
taken from Django's built-ins. Anything else — `{% load %}`, `{% debug %}`
(dumps the context and the loaded modules), `{% lorem %}` (unbounded text),
`{% url %}`, `{% csrf_token %}`, `|pprint`, or padding filters such as
`|ljust:"99999999"` that build huge strings — is an unknown tag or filter, so
the template does not compile."""

from django.template import Library, defaultfilters, defaulttags

ALLOWED_TAGS = frozenset(
    {
        "autoescape",
        "comment",
        "cycle",
        "filter",
        "firstof",
        "for",
        "if",
        "ifchanged",
        "now",
        "regroup",
        "resetcycle",
        "spaceless",
        "templatetag",
        "verbatim",
        "with",
    }
)

ALLOWED_FILTERS = frozenset(
    {
        "add",
        "capfirst",
        "cut",
        "date",
        "default",
        "default_if_none",
        "divisibleby",
        "escape",
        "first",
        "floatformat",
        "force_escape",
        "join",
        "last",
        "length",
        "linebreaks",
        "linebreaksbr",
        "lower",
        "pluralize",
        "slice",
        "slugify",
        "striptags",
        "time",
        "title",
        "truncatechars",
        "truncatewords",
        "upper",
        "urlencode",
        "urlize",
        "wordcount",
        "yesno",
    }
)

register = Library()
register.tags.update(
    {name: tag for name, tag in defaulttags.register.tags.items() if name in ALLOWED_TAGS}
)
register.filters.update(
    {name: f for name, f in defaultfilters.register.filters.items() if name in ALLOWED_FILTERS}
)
