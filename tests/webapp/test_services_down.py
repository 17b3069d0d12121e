"""The real web server while PostgreSQL or Redis goes away: pages answer a 503 page that
says to retry (the API its JSON error), never a traceback or the 500 of a bug, and answer
again by themselves once the service is back, with no restart."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from django.test import Client

from accounts.api_keys import create_key
from tests.conftest import make_user
from tests.faults import OwnRedis, Relay, relay_for_the_test_database, relayed_database_url
from tests.processes import free_port, start_web

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def services(tmp_path) -> Iterator[tuple[Relay, OwnRedis]]:
    relay, redis = relay_for_the_test_database(), OwnRedis(tmp_path)
    redis.start()
    yield relay, redis
    relay.cut()
    redis.stop()


@pytest.fixture
def site(services, tmp_path) -> Iterator[httpx.Client]:
    relay, redis = services
    port = free_port()
    web = start_web(tmp_path / "web.log", port, DATABASE_URL=relayed_database_url(relay),
                    REDIS_URL=redis.url)
    browser = Client()
    browser.force_login(make_user("ada"))
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                      cookies={"sessionid": browser.cookies["sessionid"].value}) as http:
        yield http
    web.stop()


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text[:500]
    assert response.headers["retry-after"] == "15"
    assert "Back in a moment" in response.text and "Traceback" not in response.text


def test_postgresql_going_away_gives_a_503_and_pages_come_back_by_themselves(services, site):
    relay, _ = services
    key = create_key(make_user("bob"), "fault test").secret
    assert site.get("/studio/").status_code == 200

    relay.cut()  # every connection dropped and none taken: a restarting server
    _assert_unavailable(site.get("/studio/"))
    _assert_unavailable(site.get("/"))
    api = site.get("/api/v1/jobs", headers={"Authorization": f"Bearer {key}"})
    assert api.status_code == 503
    assert api.json()["code"] == "unavailable" and api.headers["retry-after"] == "15"

    relay.mend()
    assert site.get("/studio/").status_code == 200
    assert site.get("/api/v1/jobs", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def _sign_in_attempt(base_url: str) -> httpx.Response:
    """A signed-out person's wrong password, through the sign-in form."""
    with httpx.Client(base_url=base_url, timeout=30) as person:
        form = person.get("/accounts/login/")
        return person.post("/accounts/login/", headers={"Referer": str(form.url)},
                           data={"login": "ada", "password": "not-the-password",
                                 "csrfmiddlewaretoken": person.cookies["csrftoken"]})


def test_redis_stopped_gives_a_503_where_it_is_needed_and_recovers_when_it_starts(
        services, site):
    _, redis = services
    assert site.get("/studio/").status_code == 200
    redis.stop()
    # Signing in counts attempts in the cache, which is Redis: 503, not a 500.
    _assert_unavailable(_sign_in_attempt(str(site.base_url)))
    redis.start()  # the same port, empty: as a Redis that keeps nothing restarts
    answer = _sign_in_attempt(str(site.base_url))
    assert answer.status_code == 200 and "not correct" in answer.text
    assert site.get("/studio/").status_code == 200
