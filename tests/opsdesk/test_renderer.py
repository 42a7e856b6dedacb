"""The API's JSON renderer (orjson) writes the bytes DRF's own renderer writes."""

import datetime
import decimal
import json
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.utils.translation import gettext_lazy
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.renderers import JSONRenderer as DRFJSONRenderer

from incidents.choices import Severity
from opsdesk.api.renderers import JSONRenderer
from tests.factories import IncidentFactory

OURS, DRF = JSONRenderer(), DRFJSONRenderer()

# What serializers hand a renderer: JSON values, plus the objects DRF's encoder knows.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: abs(f) < 1e16 and (f == 0 or abs(f) > 1e-4))
    | st.text()
    | st.datetimes(timezones=st.sampled_from([datetime.UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")]))
    | st.datetimes()
    | st.dates()
    | st.times()
    | st.uuids()
    | st.decimals(allow_nan=False, allow_infinity=False, places=2, max_value=10**6, min_value=-(10**6))
    | st.sampled_from(list(Severity))
)
documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_the_same_bytes_as_drfs_renderer(document):
    assert OURS.render(document) == DRF.render(document)


@pytest.mark.parametrize(
    "document",
    [
        {"when": datetime.datetime(2026, 12, 1, 9, 30, tzinfo=datetime.UTC)},  # "Z", as DRF writes UTC
        {"when": datetime.datetime(2026, 12, 1, 9, 30, 0, 5, tzinfo=ZoneInfo("Europe/Berlin"))},
        {"label": gettext_lazy("Incidents")},  # a lazy text: DRF's encoder makes it a string
        {"ids": {1, 2}, "pair": (1, "a")},
        {"amount": decimal.Decimal("1.50"), "key": uuid.UUID(int=7)},
        {"text": "line\u2028separator\u2029paragraph", "quote": '"\\'},  # escaped as DRF escapes them
        {"big": 2**70},  # beyond orjson's 64 bits: DRF's renderer writes it
        {1: "a key that is not a string"},  # DRF's renderer writes it ("1")
        {"duration": datetime.timedelta(hours=1, seconds=3)},
    ],
)
def test_what_orjson_leaves_to_drf_comes_out_as_drf_writes_it(document):
    assert OURS.render(document) == DRF.render(document)


def test_an_indented_response_is_drfs():
    rendered = OURS.render({"a": [1, 2]}, "application/json; indent=2")
    assert rendered == DRF.render({"a": [1, 2]}, "application/json; indent=2")
    assert rendered.count(b"\n") == 5


def test_nothing_is_an_empty_body():
    assert OURS.render(None) == b""


def test_an_out_of_range_float_is_null_where_drf_refuses_it():
    with pytest.raises(ValueError):
        DRF.render({"x": float("nan")})
    assert json.loads(OURS.render({"x": float("nan"), "y": float("inf")})) == {"x": None, "y": None}


def test_a_value_neither_can_write_is_refused_as_drf_refuses_it():
    class Opaque:
        pass

    with pytest.raises(TypeError):
        DRF.render({"x": Opaque()})
    with pytest.raises(TypeError):
        OURS.render({"x": Opaque()})
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate is not UTF-8
        DRF.render({"lone": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        OURS.render({"lone": "\ud800"})


@pytest.mark.django_db
def test_the_api_answers_with_it(api_client, service_desk_user):
    IncidentFactory.create_batch(3)
    client = api_client(service_desk_user)
    response = client.get("/api/v1/incidents/")
    assert response.status_code == 200
    assert isinstance(response.accepted_renderer, JSONRenderer)
    assert response.content == DRF.render(response.data)


@pytest.mark.parametrize("setting", [{"ensure_ascii": True}, {"strict": False}, {"compact": False}])
def test_the_settings_orjson_cannot_follow_are_drfs(setting):
    """UNICODE_JSON off, STRICT_JSON off, COMPACT_JSON off: DRF's renderer writes the answer."""
    ours, drf = JSONRenderer(), DRFJSONRenderer()
    for renderer in (ours, drf):
        for name, value in setting.items():
            setattr(renderer, name, value)
    document = {"text": "naïve", "x": float("nan")} if "strict" in setting else {"text": "naïve", "n": [1, 2]}
    assert ours.render(document) == drf.render(document)
    assert ours.render(document) != OURS.render(document)  # not what the default settings write
