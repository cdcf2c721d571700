"""Charts drawn on the server as SVG: coordinates computed here, the
markup in templates, so pages need no chart library and no script."""

from dataclasses import dataclass

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    points: str  # "x,y x,y …" for <polyline>
    area: str  # the same line closed along the axis, for a filled <polygon>
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    plot_left: int
    plot_bottom: int
    plot_right: int


def _nice_top(value: int) -> int:
    """A round axis maximum at or above the value."""
    if value <= 5:
        return 5
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def line_chart(values: list[int], labels: list[str]) -> LineChart | None:
    if not values:
        return None
    top = _nice_top(max(values))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(values) - 1, 1)

    def y(value: float) -> float:
        return round(TOP + plot_h - plot_h * value / top, 1)

    coords = [(round(LEFT + i * step, 1), y(v)) for i, v in enumerate(values)]
    points = " ".join(f"{x},{yy}" for x, yy in coords)
    bottom = TOP + plot_h
    area = f"{coords[0][0]},{bottom} {points} {coords[-1][0]},{bottom}"
    y_ticks = [Tick(LEFT - 6, y(top * i / 4), f"{round(top * i / 4):g}") for i in range(5)]
    every = max(1, len(values) // 6)
    x_ticks = [Tick(coords[i][0], bottom + 18, labels[i]) for i in range(0, len(values), every)]
    return LineChart(
        width=WIDTH,
        height=HEIGHT,
        points=points,
        area=area,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        plot_left=LEFT,
        plot_bottom=bottom,
        plot_right=WIDTH - RIGHT,
    )
