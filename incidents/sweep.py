"""The SLA sweep, set-based: a fixed number of statements per batch, whatever it finds.

Per clock and batch (at most ``BATCH`` incidents, oldest deadline first):

1. claim: one conditional UPDATE of the candidate ids that are not yet flagged. It reads one
   candidate more than it claims, so that a full batch knows whether another is due: exactly
   ``BATCH`` crossings make one batch, not a second, empty one. The condition is
   re-checked on the locked row, so two sweeps at once never claim an incident twice (PostgreSQL
   re-evaluates it after waiting for the other's lock; SQLite has one writer). This is the
   exactly-once guarantee of the per-row version. Breaches raise, in the same UPDATE on PostgreSQL,
   the level of the open ones below the top tier by one (the same conditional raise as a manual
   escalation; on SQLite a second UPDATE);
2. one SELECT of the claimed incidents with their team, service and assignee, and the
   recipients of all of them in five queries (``notify.prefetched``);
3. one INSERT of the transition log entries (``escalate``; ``workflow.log_many``), one INSERT … ON CONFLICT DO
   NOTHING of every outbox row (``notifications.notify_many``: still one row per recipient
   and event, deduplicated by key), one UPDATE ticking the checklist step "notify the team";
4. after commit, one delivery task per queue (one publish per batch, not per row).

Each batch is one transaction: it commits whole or not at all. An idle sweep runs one UPDATE per
clock (partial indexes make each an index probe: bench/NOTES.md). Wherever a batch filters by its
claimed ids, they travel as one array parameter on PostgreSQL (``opsdesk.selectors.many_ids``).
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction

from opsdesk.models import TransitionLog
from opsdesk.notifications import notify_many
from opsdesk.rollups import announce_bulk_update
from opsdesk.selectors import many_ids
from opsdesk.workflow import log_many

from . import notify, sla
from .choices import OPEN_STATES, SLAClockName, StepKey
from .models import Incident

BATCH = 5000
MAX_BATCHES = 100  # a sweep acts on at most BATCH × MAX_BATCHES rows per clock; the next picks up the rest


def _false() -> str:
    return "FALSE" if connection.vendor == "postgresql" else "0"


def _ids_clause(ids: list[int]) -> tuple[str, list]:
    if connection.vendor == "postgresql":
        return "= ANY(%s)", [list(ids)]
    return f"IN ({', '.join(['%s'] * len(ids))})", list(ids)


def _sql(candidates) -> tuple[str, list]:
    return candidates if isinstance(candidates, tuple) else candidates.query.sql_with_params()


def _first_of_arms(arms: list, due: str) -> tuple[str, list]:
    """``(pk, due)`` of the ``BATCH + 1`` rows of ``arms`` with the oldest ``due`` (one more than a
    batch: see ``_candidates``): each arm ordered and cut
    on its own, then merged (``UNION``: a row two arms find counts once). Each arm is then an index
    scan of its partial index, not a bitmap scan of all of them: it stops at the first row past now,
    and it marks the entries of rows deleted or flagged since as dead in the index as it meets them,
    so the next sweep skips them (a bitmap scan visits them every minute until a vacuum, and stale
    estimates of them choose a parallel plan: bench/NOTES.md)."""
    parts, params = [], []
    for number, arm in enumerate(arms):
        sql, arm_params = arm.order_by(due).values("pk", due)[:BATCH + 1].query.sql_with_params()
        parts.append(f"SELECT * FROM ({sql}) AS arm{number}")  # noqa: S608 - generated SQL only
        params.extend(arm_params)
    sql = f"SELECT pk, {due} FROM ({' UNION '.join(parts)}) AS arms ORDER BY {due} LIMIT {BATCH + 1}"  # noqa: S608
    return sql, params


def _candidates(candidates, due: str) -> tuple[str, list, str, str]:
    """The pieces of a claim over ``candidates`` (``(pk, due)`` of up to ``BATCH + 1`` rows): the
    ``WITH`` clause naming them, its parameters, the condition on ``id`` of the first ``BATCH`` of
    them, and an expression that is true when there were more (another batch is due). Reading one
    more than a batch is how a full batch tells "that was all" from "more remain" without a second
    round that finds nothing. ``MATERIALIZED``: the candidates are read once, before any row is
    claimed (SQLite would otherwise count them again in ``RETURNING``, when the claimed ones no longer
    qualify; PostgreSQL materializes a CTE read twice anyway and reads it in the statement's snapshot)."""
    select_sql, select_params = _sql(candidates)
    first = f"id IN (SELECT pk FROM candidates ORDER BY {due} LIMIT {BATCH})"  # noqa: S608 - names only
    more = f"(SELECT count(*) FROM candidates) > {BATCH}"  # noqa: S608 - names only
    return f"WITH candidates AS MATERIALIZED ({select_sql}) ", select_params, first, more


def _claim(candidates, due: str, set_sql: str, set_params: list, guard_sql: str) -> tuple[list[tuple[int, str]], bool]:
    """One conditional UPDATE over the first ``BATCH`` candidate ids; ``(id, state)`` of the rows it
    changed, and whether more candidates remain."""
    with_sql, with_params, ids_sql, more_sql = _candidates(candidates, due)
    table = Incident._meta.db_table
    sql = (f"{with_sql}UPDATE {table} SET {set_sql} WHERE {ids_sql} AND {guard_sql} "  # noqa: S608 - names only
           f"RETURNING id, state, {more_sql}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*with_params, *set_params])
        rows = cursor.fetchall()
    return [(pk, state) for pk, state, _more in rows], bool(rows and rows[0][2])


def _claim_and_escalate(candidates, due: str, set_sql: str, set_params: list, guard_sql: str,
                        now: datetime) -> tuple[list[tuple[int, str, int | None]], bool]:
    """Claim the breaches and raise the level of the open ones below the top tier by one (the same
    conditional raise as a manual escalation); ``(id, state, new level or None)`` per claimed row,
    and whether more candidates remain.

    PostgreSQL: one statement. The CTE locks the candidates still unflagged (``FOR UPDATE`` re-reads a
    row another transaction changed meanwhile, so ``level_before`` is the level being raised), the
    UPDATE writes flag and level in one new row version: each row and its ~30 index entries once, not
    twice. SQLite (one writer): the claim, then the raise."""
    table = Incident._meta.db_table
    open_states = [str(state) for state in OPEN_STATES]
    if connection.vendor != "postgresql":
        claimed, more = _claim(candidates, due, set_sql, set_params, guard_sql)
        levels = _escalate([pk for pk, state in claimed if state in OPEN_STATES], now)
        return [(pk, state, levels.get(pk)) for pk, state in claimed], more
    with_sql, with_params, ids_sql, more_sql = _candidates(candidates, due)
    sql = (
        f"{with_sql}, claimed AS (SELECT id, escalation_level AS level_before FROM {table} "  # noqa: S608 - names only
        f"WHERE {ids_sql} AND {guard_sql} FOR UPDATE) "
        f"UPDATE {table} SET {set_sql}, escalation_level = CASE WHEN {table}.state = ANY(%s) "
        f"AND {table}.escalation_level < %s THEN {table}.escalation_level + 1 ELSE {table}.escalation_level END "
        f"FROM claimed WHERE {table}.id = claimed.id "
        f"RETURNING {table}.id, {table}.state, {table}.escalation_level, claimed.level_before, {more_sql}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*with_params, *set_params, open_states, notify.MAX_ESCALATION_LEVEL])
        rows = cursor.fetchall()
    claimed = [(pk, state, level if level > before else None) for pk, state, level, before, _more in rows]
    return claimed, bool(rows and rows[0][4])


def _escalate(ids: list[int], now: datetime) -> dict[int, int]:
    """Raise the level of each of ``ids`` below the top tier by one; their new levels."""
    if not ids:
        return {}
    clause, params = _ids_clause(ids)
    sql = (f"UPDATE {Incident._meta.db_table} SET escalation_level = escalation_level + 1, updated_at = %s "  # noqa: S608
           f"WHERE id {clause} AND escalation_level < %s RETURNING id, escalation_level")
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, *params, notify.MAX_ESCALATION_LEVEL])
        return dict(cursor.fetchall())


# What the messages, recipients and log entries read (notify.describe, event/warning/escalation_message,
# the confidentiality checks): 13 of the incident's 60 columns, for thousands of rows at once.
_READ = ("number", "title", "severity", "state", "confidential", "service", "team", "assignee", "reporter",
         "detected_at", "response_due", "resolution_due", "escalation_level")


def _load(ids: list[int]) -> list[Incident]:
    """The incidents with their team, service and assignee: one query each, one instance per team
    (or service, or person) shared by its incidents rather than one per row of a join."""
    rows = (Incident.objects.prefetch_related("team", "service", "assignee").only(*_READ)
            .filter(many_ids("pk", ids)).order_by())  # ordered below, by ``ids``
    by_id = {incident.pk: incident for incident in rows}
    return [by_id[pk] for pk in ids if pk in by_id]


def _tick_team_notified(incidents: dict[int, Incident], written) -> None:
    from .steps import observe

    addresses: dict[int, list[str]] = {}
    for _pk, object_id, recipient in written:
        addresses.setdefault(object_id, []).append(recipient)
    notified = [
        pk for pk, found in addresses.items() if pk in incidents and notify.team_was_notified(incidents[pk], found)
    ]
    if notified:
        observe(notified, [StepKey.TEAM_NOTIFICATION])


def _breach_batch(clock: str, candidates, now: datetime) -> tuple[int, bool]:
    names = sla.clock_fields(clock)
    label = SLAClockName(clock).label
    with transaction.atomic(savepoint=False):  # one batch, one transaction (no savepoint of its own)
        claimed, more = _claim_and_escalate(
            candidates, names.due,
            f"{names.breached} = %s, {names.breached_at} = {names.due}, updated_at = %s", [True, now],
            f"{names.breached} = {_false()}", now,
        )
        if not claimed:
            return 0, more
        # The breach flags are figures of the day each incident was detected (the SLA-met rates).
        announce_bulk_update(Incident, [pk for pk, _state, _level in claimed])
        levels = {pk: level for pk, _state, level in claimed if level is not None}
        incidents = _load([pk for pk, state, _level in claimed if state in OPEN_STATES])
        messages, logs = [], []
        content_type = ContentType.objects.get_for_model(Incident)
        with notify.prefetched({incident.team for incident in incidents}):
            for incident in incidents:
                due = getattr(incident, names.due)
                level = levels.get(incident.pk)
                if level is not None:
                    incident.escalation_level = level - 1  # the announcement tells the level it was found at
                messages.append(notify.event_message(incident, headline=f"{label} SLA breached", key=f"{clock}-breach"))
                if level is None:
                    continue
                incident.escalation_level = level
                reason = f"{clock} SLA breached at {due:%Y-%m-%d %H:%M %Z}"
                logs.append(TransitionLog(
                    content_type=content_type, object_id=incident.pk, object_number=incident.number,
                    transition="escalate", from_state=incident.state, to_state=incident.state, user=None,
                    comment=f"level {level} ({notify.ESCALATION_TIERS[level]}): {reason}", timestamp=now,
                ))
                messages.append(notify.escalation_message(incident, level=level, reason=reason))
            log_many(logs)
            written = notify_many(messages)
            _tick_team_notified({incident.pk: incident for incident in incidents}, written)
        return len(claimed), more


def _warn_batch(clock: str, candidates, now: datetime) -> tuple[int, bool]:
    names = sla.clock_fields(clock)
    with transaction.atomic(savepoint=False):  # one batch, one transaction (no savepoint of its own)
        claimed, more = _claim(
            candidates, names.warning_due, f"{names.warned_at} = %s, updated_at = %s", [now, now],
            f"{names.warned_at} IS NULL AND {names.breached} = {_false()}",
        )
        if not claimed:
            return 0, more
        incidents = _load([pk for pk, _state in claimed])
        label = SLAClockName(clock).label
        with notify.prefetched({incident.team for incident in incidents}):
            messages = []
            for incident in incidents:
                due = getattr(incident, names.due)
                messages.append(notify.warning_message(
                    incident, headline=f"{label} SLA at risk (due {due:%H:%M %Z})",
                    key=f"{clock}-warning:{due.isoformat()}",
                ))
            notify_many(messages)
        return len(claimed), more


def _batches(act, clock: str, candidates, now: datetime) -> int:
    done = 0
    for _ in range(MAX_BATCHES):
        found, more = act(clock, candidates, now)
        done += found
        if not (found and more):
            break
    return done


def breach_all(clock: str, arms: list, now: datetime) -> int:
    """Flag, escalate and announce every breach the querysets ``arms`` find (one per partial
    index); how many were flagged."""
    return _batches(_breach_batch, clock, _first_of_arms(arms, sla.clock_fields(clock).due), now)


def warn_all(clock: str, queryset, now: datetime) -> int:
    """Send every warning ``queryset`` finds, once; how many incidents were warned."""
    due = sla.clock_fields(clock).warning_due
    candidates = queryset.order_by(due).values("pk", due)[:BATCH + 1]
    return _batches(_warn_batch, clock, candidates, now)
