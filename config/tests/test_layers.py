"""The apps are layers (ARCHITECTURE.md): no app imports the services, tasks,
API or views of an app above it. A lower app tells a higher one through a
hook the higher one connects in its ready() (config/hooks.py) or a Celery
task name. Reading a higher app's models is data, not a call, and allowed.
Tests are not checked; they may set up any layer."""

import ast
from pathlib import Path

import pytest

LAYERS = ["config", "accounts", "customers", "delivery", "notifications", "incidents", "tickets"]
LAYERS.append("web")
RANK = {app: rank for rank, app in enumerate(LAYERS)}
CALLABLE_PARTS = {"services", "tasks", "api", "views"}
ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    """Every module name an import statement anywhere in the file reaches,
    relative imports resolved against `module` (the file's dotted name)."""
    found = []
    package = module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def upward_calls(*, app: str, module: str, source: str) -> list[str]:
    """The imports in one file of `app` that reach a callable part of a
    higher app, as "line: module"."""
    problems = []
    for line, name in _imported_modules(ast.parse(source), module):
        parts = name.split(".")
        target = parts[0]
        if RANK.get(target, -1) <= RANK[app]:
            continue
        if CALLABLE_PARTS & set(parts[1:]):
            problems.append(f"{line}: {name}")
    return sorted(set(problems))


def _source_files():
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if {"tests", "migrations"} & set(relative.parts) or path.name == "conftest.py":
                continue
            yield app, relative


def test_no_app_imports_the_services_tasks_api_or_views_of_an_app_above_it():
    violations = []
    for app, relative in _source_files():
        module = ".".join(relative.with_suffix("").parts)
        source = (ROOT / relative).read_text(encoding="utf-8")
        violations += [
            f"{relative}:{hit}" for hit in upward_calls(app=app, module=module, source=source)
        ]
    assert violations == [], (
        "A lower layer imports a higher one's services/tasks/api/views; "
        "tell it through a hook it connects in ready() instead:\n" + "\n".join(violations)
    )


def test_the_check_looks_at_every_app():
    checked = {app for app, _ in _source_files()}
    assert checked >= {"accounts", "customers", "delivery", "notifications", "tickets", "web"}


@pytest.mark.parametrize(
    "source",
    [
        "from notifications.services import notification_finish_if_done",
        "def f():\n    from notifications import services\n",
        "import notifications.tasks",
        "from tickets.api import TicketViewSet",
        "from web.views.customers import customer_list",
        "from incidents import services as incident_services",
    ],
)
def test_the_check_catches_a_call_upward_wherever_it_hides(source):
    assert upward_calls(app="delivery", module="delivery.services", source=source)


@pytest.mark.parametrize(
    "source",
    [
        "from notifications.models import Notification",
        "from notifications import templating",
        "from customers.services import customer_list",
        "from delivery import hooks",
        "from . import services",
        "from .services import message_drain",
    ],
)
def test_reading_data_and_calling_downward_or_within_are_allowed(source):
    assert upward_calls(app="delivery", module="delivery.tasks", source=source) == []


# --- delivery alone writes Message rows -----------------------------------------

WRITES = {"create", "bulk_create", "update", "bulk_update", "delete", "get_or_create"}
WRITES |= {"update_or_create", "save"}


def _on_message_rows(node: ast.AST) -> bool:
    """Whether a call's receiver chain starts at `Message.objects` or at a
    `Message(...)` instance made on the spot."""
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        if isinstance(node, ast.Attribute) and node.attr == "objects":
            return isinstance(node.value, ast.Name) and node.value.id == "Message"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return node.func.id == "Message"
        node = node.func if isinstance(node, ast.Call) else node.value
    return False


def message_writes(source: str) -> list[int]:
    """The lines of a file that write Message rows through the ORM."""
    return sorted(
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in WRITES
        and _on_message_rows(node.func.value)
    )


def test_only_delivery_writes_message_rows():
    """Other apps ask delivery (delivery.services) to create, cancel, retry
    or expire messages; they may read them."""
    writes = [
        f"{relative}:{line}"
        for app, relative in _source_files()
        if app != "delivery"
        for line in message_writes((ROOT / relative).read_text(encoding="utf-8"))
    ]
    assert writes == [], "Message rows written outside delivery:\n" + "\n".join(writes)


@pytest.mark.parametrize(
    "source",
    [
        "Message.objects.create(channel='email')",
        "Message.objects.filter(notification=n, status='failed').update(status='pending')",
        "Message.objects.filter(pk=1).order_by('pk')[:5].delete()",
        "Message(channel='sms').save()",
    ],
)
def test_the_message_write_check_catches_each_kind_of_write(source):
    assert message_writes(source) == [1]


def test_reading_messages_is_not_a_write():
    source = "Message.objects.filter(status='sent').count()\nOutboxMessage.objects.create()"
    assert message_writes(source) == []
