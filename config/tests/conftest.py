import sys


def pytest_terminal_summary(terminalreporter):
    """How much of the API the schema conformance run exercised, per role."""
    module = sys.modules.get("config.tests.test_schema_conformance")
    lines = module.tally_lines() if module is not None else []
    if lines:
        terminalreporter.section("schemathesis")
        for line in lines:
            terminalreporter.write_line(line)
