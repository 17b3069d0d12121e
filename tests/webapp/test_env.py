import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from webapp.env import Env

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("method", "value"),
    [("bool", "maybe"), ("int", "ten"), ("float", "fast"), ("list", "a,,b")],
)
def test_a_malformed_value_names_the_variable(method, value):
    env = Env({"FRAMECRAFT_SETTING": value})
    with pytest.raises(ImproperlyConfigured, match="FRAMECRAFT_SETTING"):
        getattr(env, method)("FRAMECRAFT_SETTING", *(["x"] if method == "list" else [1]))


def test_well_formed_values_parse():
    env = Env({"A": "yes", "B": "12", "C": "a, b", "D": "postgres://db/x"})
    assert env.bool("A", False) is True
    assert env.int("B", 0) == 12
    assert env.list("C", []) == ["a", "b"]
    assert env.url("D", ("postgres",)) == "postgres://db/x"
    assert env.int("MISSING", 7) == 7


def test_a_number_below_its_minimum_is_refused():
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        Env({"N": "0"}).int("N", 4, min_value=1)


def test_a_url_with_the_wrong_scheme_is_refused():
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        Env({"REDIS_URL": "http://localhost"}).url("REDIS_URL", ("redis", "unix"))


def test_start_up_stops_with_a_message_naming_a_malformed_variable():
    env = {**os.environ, "DJANGO_DEBUG": "maybe"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "DJANGO_DEBUG='maybe' is malformed" in result.stderr


def test_production_needs_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env["DJANGO_DEBUG"] = "0"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr
