"""``EstimatedPaginator``: exact counts up to its cap; pages that never trust an estimate."""

from __future__ import annotations

import pytest
from django.core.paginator import EmptyPage

from incidents.models import Incident
from opsdesk import pagination
from opsdesk.pagination import EstimatedPaginator
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def incidents():
    return [IncidentFactory().pk for _ in range(23)]


def ids(page) -> list[int]:
    return [incident.pk for incident in page.object_list]


def estimating(monkeypatch, estimate: int) -> None:
    """The planner's estimate, as PostgreSQL would give it beyond the cap."""
    monkeypatch.setattr(pagination, "cheap_count", lambda queryset, cap: (estimate, True))


def test_counts_exactly_up_to_its_cap_and_pages_by_the_count(incidents, django_assert_num_queries):
    paginator = EstimatedPaginator(Incident.objects.order_by("id"), 10, count_cap=50)
    with django_assert_num_queries(2):  # the capped count, the page
        page = paginator.page(3)
    assert (paginator.count, paginator.count_estimated, paginator.num_pages) == (23, False, 3)
    assert ids(page) == incidents[20:] and not page.has_next() and page.has_previous()
    assert paginator.page(2).has_next()
    with pytest.raises(EmptyPage):
        paginator.page(4)


def test_an_estimate_short_of_the_truth_still_reaches_every_row(incidents, monkeypatch):
    estimating(monkeypatch, 12)
    paginator = EstimatedPaginator(Incident.objects.order_by("id"), 10)
    first = paginator.page(1)
    assert first.has_next() and paginator.count_estimated
    second = paginator.page(2)
    assert ids(second) == incidents[10:20] and second.has_next()
    assert paginator.count == 21  # what the pages proved: 20 rows and one more
    third = paginator.page(3)
    assert ids(third) == incidents[20:] and not third.has_next()
    assert paginator.count == 23 and paginator.num_pages == 3


def test_an_estimate_beyond_the_truth_counts_exactly_past_the_end(incidents, monkeypatch, django_assert_num_queries):
    estimating(monkeypatch, 500)
    paginator = EstimatedPaginator(Incident.objects.order_by("id"), 10)
    assert paginator.num_pages == 50
    with django_assert_num_queries(2), pytest.raises(EmptyPage):  # the empty page, then the exact count
        paginator.page(40)
    assert (paginator.count, paginator.count_estimated, paginator.num_pages) == (23, False, 3)
    assert ids(paginator.page(paginator.num_pages)) == incidents[20:]
