"""Measure OpsDesk at 20 000 (SQLite) and 1 000 000 incidents (PostgreSQL) in one run (``bench/run``).

    bench/run [--peer] [--seconds 10] [--port 8181]

* 20 000 incidents on SQLite (``/tmp/opsdesk_bench_20k.sqlite3``, seeded by ``bench/seed --sqlite``
  when missing): the incident queue page and the incident list API, with the bare ``.values()``
  view of the same 50 rows beside it; ``--peer`` also runs django-helpdesk on the same terms
  (``/work/shared/peers``, copied to /tmp), between two passes of OpsDesk, so the ratio comes
  from one run.
* 1 000 000 incidents on PostgreSQL (``BENCH_DATABASE_URL``, default ``opsdesk_bench``, filled by
  ``bench/seed``): metrics, the dashboard, a daily series, list pages, the filtered queue, and the
  SLA sweep (idle, and with 500 / 5 000 deadline crossings made for the purpose and removed after).

OpsDesk runs under gunicorn with production settings (DEBUG off), 2 sync workers, on 127.0.0.1
only; load comes from ``wrk -t1`` for a fixed time (``-c4`` for the comparisons, as the peer's
benchmark does; ``-c1`` for the latency limits, so that queueing behind the other worker does
not count). Queries per request and the time of that SQL alone come from the same requests
replayed in-process. Every loop is bounded in count and time; the table goes to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PY = str(ROOT / ".venv" / "bin" / "python")
SQLITE_FILE = "/tmp/opsdesk_bench_20k.sqlite3"
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/opsdesk_bench")
BROKER = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/12")
PEERS = Path(os.environ.get("BENCH_PEERS", "/work/shared/peers"))
RESULTS = BENCH / "RESULTS.md"
SECTION = "## One run: targets at 20 000 and 1 000 000 incidents (bench/run)"
PEER_NOTE = ("The peer (django-helpdesk, by its own script) ran between two OpsDesk passes at 20 000; "
             "OpsDesk's figures there are the mean of both passes.")
RUN_DEADLINE = 3600
# One key for the whole run: the probes' sessions must be valid in gunicorn.
SECRET_KEY = os.environ.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(60)  # the whole run stops by then


def server_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "PYTHONPATH": f"{BENCH}:{ROOT}",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SECURE_SSL_REDIRECT": "false",
        "CELERY_BROKER_URL": BROKER,
    }


# --- in-process probes (run as subprocesses: one database each) --------------------


def probe_main(argv: list[str]) -> None:
    """``run.py --probe KIND ...``: session | queries PATH... | sweep; prints JSON."""
    import django

    django.setup()
    kind = argv[0]
    if kind == "session":
        print(json.dumps({"session": _session_key()}))
    elif kind == "queries":
        print(json.dumps(_queries(argv[1:])))
    elif kind == "sweep":
        print(json.dumps(_sweeps([int(n) for n in argv[1:]])))
    elif kind == "vacuum":
        print(json.dumps(_vacuum()))


def _session_key() -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    user = get_user_model().objects.get(username="bench")
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def _queries(paths: list[str]) -> dict[str, dict]:
    """Per path: the statements one request runs, and the median time of its SELECTs replayed alone."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    out = {}
    for path in paths:
        accept = "application/json" if "/api/" in path else "text/html"
        client.get(path, HTTP_ACCEPT=accept)  # warm: sessions, caches
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path, HTTP_ACCEPT=accept)
        status = response.status_code
        selects = [
            q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))
        ]
        times = []
        deadline = time.monotonic() + 20
        for _ in range(5):
            started = time.perf_counter()
            with connection.cursor() as cursor:
                for sql in selects:
                    cursor.execute(sql)
                    cursor.fetchall()
            times.append((time.perf_counter() - started) * 1000)
            if time.monotonic() > deadline:
                break
        out[path] = {"status": status, "queries": len(captured.captured_queries), "sql_ms": statistics.median(times),
                     "rows": len(re.findall(r'<tr [^>]*id="incident-\d+"', response.content.decode()))
                     if accept == "text/html" else None}
    return out


# What a sweep of made crossings writes about them, deleted with them (``_remove``).
OBJECT_TABLES = ("opsdesk_transitionlog", "opsdesk_notification")


def _crossings(count: int) -> list[int]:
    """``count`` open incidents whose response deadline passed a minute ago, never flagged."""
    from datetime import timedelta

    from django.db.models import CharField, Value
    from django.db.models.functions import Cast, Concat
    from django.utils import timezone

    from incidents.models import Incident
    from opsdesk.models import Service

    now = timezone.now()
    services = list(Service.objects.select_related("owner_team")[:20])
    rows = [
        Incident(
            title="bench crossing", severity="medium", service=services[i % len(services)],
            team=services[i % len(services)].owner_team, started_at=now - timedelta(hours=2, minutes=5),
            detected_at=now - timedelta(hours=2), response_due=now - timedelta(minutes=1),
            response_warning_due=now - timedelta(minutes=31), response_warned_at=now - timedelta(minutes=30),
            resolution_due=now + timedelta(hours=6), resolution_warning_due=now + timedelta(hours=4),
            created_by_rule="bench",
        )
        for i in range(count)
    ]
    ids = [row.pk for row in Incident.objects.bulk_create(rows, batch_size=1000)]
    Incident.objects.filter(pk__in=ids).update(number=Concat(Value("INC-"), Cast("id", CharField())))
    return ids


def _remove(ids: list[int]) -> None:
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from incidents.models import Incident

    ct = ContentType.objects.get_for_model(Incident).pk
    with connection.cursor() as cursor:
        for table in OBJECT_TABLES:
            cursor.execute(f"DELETE FROM {table} WHERE content_type_id = %s AND object_id = ANY(%s)", [ct, ids])
        cursor.execute("DELETE FROM incidents_incident WHERE id = ANY(%s)", [ids])


def _timed_sweep() -> tuple[float, int, dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from incidents.services import sla_sweep

    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        done = sla_sweep()
        elapsed = (time.perf_counter() - started) * 1000
    return elapsed, len(captured.captured_queries), done


# The tables an earlier run's made crossings churned (``_crossings`` inserts, ``_remove`` deletes): their dead
# entries stay in the indexes until a vacuum and the probes would visit them; in production, autovacuum clears them.
CHURNED = ("incidents_incident", *OBJECT_TABLES)


def _vacuum() -> dict:
    """VACUUM the tables earlier sweep probes churned; seconds per table."""
    from django.db import connection

    took = {}
    with connection.cursor() as cursor:  # autocommit: VACUUM cannot run in a transaction
        for table in CHURNED:
            started = time.perf_counter()
            cursor.execute(f"VACUUM {table}")  # noqa: S608 - constant table names
            took[table] = round(time.perf_counter() - started, 2)
    return took


def _sweeps(sizes: list[int]) -> dict:
    """The idle sweep (up to 20 runs or 20 s), then one sweep per size of made crossings."""
    from incidents.models import Incident

    leftovers = list(Incident.objects.filter(created_by_rule="bench").values_list("pk", flat=True))
    if leftovers:
        _remove(leftovers)
    idle, idle_queries, deadline = [], 0, time.monotonic() + 20
    for _ in range(20):
        elapsed, idle_queries, _done = _timed_sweep()
        idle.append(elapsed)
        if time.monotonic() > deadline:
            break
    out = {"idle": {"times": idle, "queries": idle_queries}}
    for size in sizes:
        ids = _crossings(size)
        try:
            elapsed, queries, done = _timed_sweep()
        finally:
            _remove(ids)
        out[str(size)] = {"times": [elapsed], "queries": queries, "done": done}
    return out


def probe(database_url: str, *args: str, timeout: int = 1200) -> dict:
    result = subprocess.run(
        [PY, __file__, "--probe", *args], env=server_env(database_url), capture_output=True, text=True,
        timeout=timeout, cwd=ROOT, check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"probe {args[0]} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- gunicorn and wrk --------------------------------------------------------------


class Server:
    """OpsDesk under gunicorn (2 sync workers, production settings) on 127.0.0.1:port."""

    def __init__(self, database_url: str, port: int) -> None:
        self.port = port
        self.log = open(f"/tmp/opsdesk_bench_gunicorn_{port}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "opsdesk.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--timeout", "120", "--no-control-socket"],
            env=server_env(database_url), cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)  # noqa: S310 - loopback
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.3)
        self.stop()
        raise SystemExit(f"gunicorn did not come up on port {port}: see {self.log.name}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


def wrk(port: int, path: str, cookie: str, seconds: int, connections: int) -> dict:
    result = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s", "-s", str(BENCH / "wrk.lua"),
         f"http://127.0.0.1:{port}/"],
        env={**os.environ, "WRK_PATH": path, "WRK_COOKIE": f"sessionid={cookie}"},
        capture_output=True, text=True, timeout=seconds + 90, check=False,
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("RESULT")), "")
    values = dict(re.findall(r"(\w+)=([0-9.]+)", line))
    return {k: float(v) for k, v in values.items()}


def timed_requests(port: int, path: str, cookie: str, count: int = 5, budget: float = 90) -> dict:
    """For requests slower than wrk's window: ``count`` requests one after the other, at most ``budget`` s."""
    times, deadline = [], time.monotonic() + budget
    for _ in range(count):
        started = time.perf_counter()
        status = check_status(port, path, cookie)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200 or time.monotonic() > deadline:
            break
    times.sort()
    return {"p50_ms": statistics.median(times), "p95_ms": times[min(len(times) - 1, int(0.95 * len(times)))],
            "rps": 1000 * len(times) / sum(times), "requests": len(times), "sequential": True}


def check_status(port: int, path: str, cookie: str) -> int:
    """The status of one request (redirects not followed: a login redirect is a failure)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("GET", path, headers={"Cookie": f"sessionid={cookie}", "Accept": "application/json"})
        return connection.getresponse().status
    finally:
        connection.close()


# --- the run -------------------------------------------------------------------------


def period(days: int) -> str:
    from datetime import timedelta

    today = datetime.now(UTC).date()
    return f"from={(today - timedelta(days=days - 1)).isoformat()}&to={(today + timedelta(days=1)).isoformat()}"


def pg_operations() -> list[dict]:
    """The 1 000 000-incident operations and their limits (ms, p50)."""
    return [
        {"name": "metrics summary 90 d", "path": f"/api/v1/metrics/?{period(90)}", "limit_ms": 200},
        {"name": "metrics summary 365 d", "path": f"/api/v1/metrics/?{period(365)}", "limit_ms": 200},
        {"name": "metrics dashboard 30 d", "path": "/metrics/?days=30", "limit_ms": 300},
        {"name": "daily series 365 d (incidents.count)",
         "path": f"/api/v1/metrics/timeseries/?metric=incidents.count&interval=day&{period(365)}", "limit_ms": 500},
        {"name": "daily series 365 d (incidents.mttr_seconds)",
         "path": f"/api/v1/metrics/timeseries/?metric=incidents.mttr_seconds&interval=day&{period(365)}",
         "limit_ms": 500},
        {"name": "list API page 1", "path": "/api/v1/incidents/?page_size=50", "limit_ms": 30},
        {"name": "list API page 1000", "path": "/api/v1/incidents/?page_size=50&page=1000", "limit_ms": 30},
        {"name": "filtered queue (open, breached, high)",
         "path": "/incidents/?state=detected&state=responding&state=on_hold&breached=true&severity=high",
         "limit_ms": 50},
        {"name": "bare .values() view, 50 rows (reference)", "path": "/bench/values/?page_size=50"},
    ]


SQLITE_OPERATIONS = [
    # The bench user works no team, so its default view (My work) is empty: measure the open
    # queue, a full page of 50 rows (checked: ``rows``).
    {"name": "incident queue HTML", "path": "/incidents/?view=open&per_page=50", "rows": 50},
    {"name": "incident list API (50 rows)", "path": "/api/v1/incidents/?page_size=50"},
    {"name": "bare .values() view (50 rows)", "path": "/bench/values/?page_size=50"},
    # For information: the bare view with every column the API shows (46, not 17); and, beside the
    # peer's shell (a page without rows), the layout every OpsDesk page pays.
    {"name": "bare .values() view, the API's 46 columns (50 rows)", "path": "/bench/values-api-columns/?page_size=50"},
    {"name": "OpsDesk's base layout around an empty page", "path": "/bench/layout/"},
]


def measure(port: int, database_url: str, operations: list[dict], seconds: int, connections: int, deadline: float):
    cookie = probe(database_url, "session")["session"]
    counted = probe(database_url, "queries", *[op["path"] for op in operations])
    rows = []
    for op in operations:
        if op.get("rows") and counted[op["path"]]["rows"] != op["rows"]:
            raise SystemExit(f"{op['name']}: {counted[op['path']]['rows']} rows on the page, not {op['rows']}: "
                             "the benchmark would measure another page")
        status = check_status(port, op["path"], cookie)
        row = {**op, "status": status, **counted[op["path"]]}
        if status == 200 and time.monotonic() < deadline:
            row |= wrk(port, op["path"], cookie, seconds, connections)
            if row.get("requests", 0) < 5:  # slower than the window: time a few one after the other
                row |= timed_requests(port, op["path"], cookie)
        rows.append(row)
        sys.stderr.write(f"  {op['name']}: {row.get('p50_ms', '-')} ms p50, {row.get('rps', '-')} req/s\n")
    return rows


def run_peer(seconds: int) -> dict[str, dict]:
    work = Path("/tmp/opsdesk_bench_peers")
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(PEERS, work)
    results = work / "results.txt"
    subprocess.run(
        ["bash", str(work / "bench_helpdesk.sh"), "20000", str(seconds)], cwd=work, timeout=1800, check=True,
        env={**os.environ, "RESULTS": str(results)}, stdout=sys.stderr,
    )
    peer = {}
    for line in results.read_text().splitlines():
        parts = line.split()
        if len(parts) == 9 and parts[1] in ("GET", "POST"):
            peer[parts[0]] = {"rps": float(parts[2]), "p50_ms": float(parts[3]), "p95_ms": float(parts[4]),
                              "queries": parts[7]}
    return peer


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next((int(line.split()[1]) // 1024 // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    postgres = subprocess.run(["psql", PG_URL, "-tAc", "SHOW server_version"], capture_output=True, text=True,
                              check=False).stdout.strip()
    return (f"{os.cpu_count()} × {cpu}, {memory} GB RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, PostgreSQL {postgres}, "
            f"SQLite {__import__('sqlite3').sqlite_version}; "
            "the machine is shared with other work, so absolute figures drift: the ratios come from one run")


def fmt(value, digits=0) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def table(rows: list[dict]) -> str:
    lines = [
        "| operation | p50 ms | p95 ms | req/s | limit | ratio | met | queries | SQL alone ms |",
        "| --- | ---: | ---: | ---: | --- | ---: | :---: | ---: | ---: |",
    ]
    for r in rows:
        met = "–" if r.get("met") is None else ("yes" if r["met"] else "**no**")
        lines.append(
            f"| {r['name']} | {fmt(r.get('p50_ms'), 1)} | {fmt(r.get('p95_ms'), 1)} | {fmt(r.get('rps'), 1)} | "
            f"{r.get('limit', '–')} | {fmt(r.get('ratio'), 2)} | {met} | {fmt(r.get('queries'))} | "
            f"{fmt(r.get('sql_ms'), 1)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="bench/run: OpsDesk at 20 000 and 1 000 000 incidents")
    parser.add_argument("--peer", action="store_true", help="also run django-helpdesk, interleaved")
    parser.add_argument("--seconds", type=int, default=10, help="wrk time per operation (default 10)")
    parser.add_argument("--port", type=int, default=8181, help="first of two loopback ports (default 8181)")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave bench/RESULTS.md alone")
    args = parser.parse_args()
    deadline = time.monotonic() + RUN_DEADLINE
    if shutil.which("wrk") is None:
        raise SystemExit("bench/run needs wrk (apt-get install wrk).")
    if not Path(SQLITE_FILE).exists():
        subprocess.run([str(BENCH / "seed"), "--sqlite", SQLITE_FILE, "--incidents", "20000"], check=True,
                       timeout=900)
    sqlite_url = f"sqlite:///{SQLITE_FILE}"
    started = datetime.now(UTC)
    # Production settings serve hashed static files: collect them once (into var/static).
    subprocess.run([PY, "manage.py", "collectstatic", "--noinput", "-v0"], env=server_env(sqlite_url), cwd=ROOT,
                   check=True, timeout=300)
    for url in (sqlite_url, PG_URL):  # the schema of this checkout (new indexes, rollup tables)
        subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], env=server_env(url), cwd=ROOT,
                       check=True, timeout=1800)
        # Rollups of a source the migrations brought are built, stale days rebuilt (cheap when current).
        subprocess.run([PY, "manage.py", "build_metric_rollups", "--refresh"], env=server_env(url), cwd=ROOT,
                       check=True, timeout=1800, stdout=sys.stderr)

    # 20 000 on SQLite: OpsDesk, [the peer, OpsDesk again].
    passes = []
    peer = {}
    for turn in range(2 if args.peer else 1):
        sys.stderr.write(f"OpsDesk at 20 000 on SQLite, pass {turn + 1}\n")
        server = Server(sqlite_url, args.port)
        try:
            passes.append(measure(args.port, sqlite_url, SQLITE_OPERATIONS, args.seconds, 4, deadline))
        finally:
            server.stop()
        if args.peer and turn == 0:
            sys.stderr.write("django-helpdesk at 20 000 on SQLite\n")
            peer = run_peer(args.seconds)
    rows = []
    for i, op in enumerate(SQLITE_OPERATIONS):
        measured = [p[i] for p in passes if p[i].get("rps")]
        row = {**passes[0][i], "name": f"{op['name']}, 20k (SQLite, -c4)"}
        if measured:
            for key in ("rps", "p50_ms", "p95_ms"):
                row[key] = statistics.mean(m[key] for m in measured)
        rows.append(row)
    queue, api, bare, bare_api_columns, _layout = rows
    if api.get("rps") and bare_api_columns.get("rps"):
        bare_api_columns["limit"] = "list API ÷ this (for information)"
        bare_api_columns["ratio"] = api["rps"] / bare_api_columns["rps"]
    # The peer's ticket list page is two requests: its shell (no rows) and the rows (25 of them, by
    # DataTables). Its user sees the list after both, so the page with its rows is the reference; the
    # shell alone is printed beside it for information (bench/NOTES.md "The queue against the peer").
    shell, data = peer.get("ticket_list_html", {}), peer.get("ticket_list_data", {})
    if shell.get("rps") and data.get("rps") and queue.get("rps"):
        whole = 1 / (1 / shell["rps"] + 1 / data["rps"])
        queue["limit"] = "≥ 2× the peer's ticket list with its rows"
        queue["ratio"] = queue["rps"] / whole
        queue["met"] = queue["ratio"] >= 2
    else:
        whole = None
        queue["limit"] = "≥ 2× the peer's ticket list with its rows (run with --peer)"
    api["limit"] = "≥ 0.5× the bare view"
    if api.get("rps") and bare.get("rps"):
        api["ratio"] = api["rps"] / bare["rps"]
        api["met"] = api["ratio"] >= 0.5
    for name, label in (("ticket_list_html", "peer: ticket list HTML (shell)"),
                        ("ticket_list_data", "peer: ticket list data (its rows)"),
                        ("api_ticket_list", "peer: ticket list API")):
        if name in peer:
            rows.append({"name": f"{label}, 20k (SQLite, -c4)", **peer[name]})
    if whole:
        rows.append({"name": "peer: ticket list with its rows (shell, then data), 20k", "rps": whole})
        rows.append({"name": "incident queue HTML ÷ the peer's shell alone (for information)",
                     "ratio": queue["rps"] / shell["rps"]})

    # 1 000 000 on PostgreSQL.
    sys.stderr.write(f"VACUUM of what earlier sweep probes churned: {probe(PG_URL, 'vacuum', timeout=1800)}\n")
    sys.stderr.write("OpsDesk at 1 000 000 on PostgreSQL\n")
    port = args.port + 1
    server = Server(PG_URL, port)
    try:
        pg_rows = measure(port, PG_URL, pg_operations(), args.seconds, 1, deadline)
    finally:
        server.stop()
    for row in pg_rows:
        if row.get("limit_ms"):
            row["limit"] = f"≤ {row['limit_ms']} ms"
            if row.get("p50_ms"):
                row["ratio"] = row["p50_ms"] / row["limit_ms"]
                row["met"] = row["ratio"] <= 1
        row["name"] += ", 1M (PostgreSQL, -c1)"
        rows.append(row)

    sys.stderr.write("SLA sweep at 1 000 000\n")
    sweeps = probe(PG_URL, "sweep", "500", "5000", timeout=1800)
    idle = sweeps["idle"]
    rows.append({"name": "SLA sweep, idle minute, 1M", "p50_ms": statistics.median(idle["times"]),
                 "p95_ms": sorted(idle["times"])[int(0.95 * (len(idle["times"]) - 1))],
                 "queries": idle["queries"], "limit": "≤ 20 ms",
                 "ratio": statistics.median(idle["times"]) / 20, "met": statistics.median(idle["times"]) <= 20})
    small, big = sweeps["500"], sweeps["5000"]
    crossings = sum(v for k, v in big["done"].items() if k.endswith(("breached", "warned")))
    rows.append({"name": f"SLA sweep, 500 crossings, 1M ({sum(small['done'].values())} acted on)",
                 "p50_ms": small["times"][0], "queries": small["queries"]})
    rows.append({"name": f"SLA sweep, 5 000 crossings, 1M ({crossings} acted on)", "p50_ms": big["times"][0],
                 "queries": big["queries"], "limit": "≤ 2 000 ms, statements flat",
                 "ratio": big["times"][0] / 2000,
                 "met": big["times"][0] <= 2000 and big["queries"] <= small["queries"]})

    text = "\n".join([
        SECTION, "",
        f"{started:%Y-%m-%d %H:%M} UTC. Machine: {machine()}.", "",
        "OpsDesk: gunicorn 2 sync workers, production settings (DEBUG off), 127.0.0.1, "
        f"`wrk -t1 -d{args.seconds}s` (`-c4` for the comparisons with the peer and the bare view, `-c1` "
        "for the latency limits). Ratio: ours ÷ reference for throughput limits (≥ is met), "
        "p50 ÷ limit for latency limits (≤ 1 is met). Queries: statements of one request (or one sweep); "
        "SQL alone: those SELECTs replayed in-process, without Django. The PostgreSQL tables earlier sweep "
        "probes churned are vacuumed before the PostgreSQL operations. "
        + (PEER_NOTE if peer else "Run without --peer: no peer figures."),
        "", table(rows), "",
    ])
    print(text)
    if not args.no_write:
        old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
        head, _, rest = old.partition(SECTION)
        tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
        RESULTS.write_text(head.rstrip() + "\n\n" + text + tail.rstrip() + "\n" if head.strip() else text)
        sys.stderr.write(f"written to {RESULTS}\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--probe":
        probe_main(sys.argv[2:])
    else:
        main()
