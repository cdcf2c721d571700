"""The stylesheet's text colours meet WCAG AA contrast (4.5:1) on the
backgrounds they are used on."""

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parents[1] / "static" / "web" / "app.css").read_text()
VARIABLES = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b)", CSS))


def colour(name: str) -> str:
    value = VARIABLES.get(name, name)
    if len(value) == 4:  # #abc → #aabbcc
        value = "#" + "".join(ch * 2 for ch in value[1:])
    return value


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted(
        (luminance(colour(foreground)), luminance(colour(background))), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


PAIRS = [
    ("ink", "bg"),
    ("ink", "panel"),
    ("muted", "bg"),
    ("muted", "panel"),
    ("brand", "panel"),  # links and secondary buttons
    ("brand-ink", "brand"),  # primary buttons
    ("danger", "panel"),  # error sentences
    ("#ffffff", "danger"),  # danger buttons
    ("#ffffff", "#10243e"),  # the header
    ("#ffffff", "#24446e"),  # the current page in the header
    ("ok", "#e8f5ec"),  # success messages
    ("danger", "#fdecea"),  # error messages
    ("#5c3d00", "#fff7e0"),  # notices
    ("ink", "#fbe4e2"),  # badges
    ("ink", "#fff3d6"),
    ("ink", "#e3f3e8"),
    ("ink", "#ece6fb"),
    ("ink", "#fff1ef"),  # overdue rows
]


@pytest.mark.parametrize(("foreground", "background"), PAIRS)
def test_text_is_readable(foreground, background):
    assert contrast(foreground, background) >= 4.5


def test_the_focus_ring_stands_out_from_white_and_from_the_header():
    assert contrast("brand", "#ffffff") >= 3
    assert contrast("focus", "#10243e") >= 3
