"""The process apps react to each other only through events: no app imports another's services,
and the import graph between incidents, changes and releases has no circle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROCESS_APPS = ("incidents", "changes", "releases", "alerts")


def imports_between_apps() -> dict[str, set[tuple[str, str]]]:
    """For each process app, the (other app, module) pairs its code imports (demo data and migrations aside:
    the demo replays history across all apps, like ``seed_demo``)."""
    found: dict[str, set[tuple[str, str]]] = {app: set() for app in PROCESS_APPS}
    for app in PROCESS_APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts or path.name == "demo.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [f"{node.module}.{alias.name}" for alias in node.names]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                for name in names:
                    top = name.split(".")[0]
                    if top in PROCESS_APPS and top != app:
                        found[app].add((top, name))
    return found


def test_no_process_app_imports_another_process_apps_services_or_the_automation_app():
    for app, imported in imports_between_apps().items():
        services = sorted(module for _, module in imported if ".services" in f"{module}.")
        assert services == [], f"{app} imports {services}"
    for app in PROCESS_APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts and path.name != "demo.py":
                assert "import automation" not in path.read_text() and "from automation" not in path.read_text(), path


def test_the_graph_between_the_process_apps_has_no_circle():
    graph = {app: {other for other, _ in imported} for app, imported in imports_between_apps().items()}
    visiting, done = set(), set()

    def visit(app, path):
        assert app not in visiting, f"import circle: {' -> '.join([*path, app])}"
        if app in done:
            return
        visiting.add(app)
        for other in sorted(graph[app]):
            visit(other, [*path, app])
        visiting.discard(app)
        done.add(app)

    for app in PROCESS_APPS:
        visit(app, [])


# Django set up without the automation app (which imports every app's services to run its rules)
# and without the admin (whose autodiscovery imports every app's admin, and so its own services).
ALONE = (
    "import sys, django; from django.conf import settings; import opsdesk.settings.test as base; "
    "settings.configure(**{name: getattr(base, name) for name in dir(base) if name.isupper()} "
    "| {'INSTALLED_APPS': [a for a in base.INSTALLED_APPS if a not in ('automation', 'django.contrib.admin')]}); "
    "django.setup(); assert not [m for m in sys.modules if m.endswith('.services')], 'loaded at set-up'; "
)


def test_each_apps_services_import_alone():
    """Importing one app's services loads no other process app's services."""
    for app in PROCESS_APPS:
        code = (
            ALONE
            + f"import {app}.services; "
            f"others = sorted(m for m in sys.modules if m.split('.')[0] in {PROCESS_APPS!r} "
            f"and m.split('.')[0] != {app!r} and '.services' in m); print(others); sys.exit(1 if others else 0)"
        )
        env = {"PATH": "/usr/bin:/bin"}
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=60, check=False)
        assert result.returncode == 0, f"{app}: {result.stdout}{result.stderr[-2000:]}"
