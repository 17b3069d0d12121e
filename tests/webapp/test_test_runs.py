"""Two test runs on one machine keep to their own Redis database and PostgreSQL test database."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings
from django.db import connection

from tests.processes import ROOT


def test_this_run_holds_a_slot_of_its_own(db):
    slot = os.environ["FRAMECRAFT_TEST_SLOT"]
    assert settings.REDIS_URL.endswith(f"/{slot}")
    assert settings.CELERY_BROKER_URL.endswith(f"/{slot}")
    if connection.vendor == "postgresql":
        assert connection.settings_dict["NAME"].endswith(f"_{slot}")


def test_a_second_run_started_meanwhile_takes_another_slot():
    env = {k: v for k, v in os.environ.items() if k != "FRAMECRAFT_TEST_SLOT"}
    code = ("import django, os; django.setup(); from django.conf import settings; "
            "print(os.environ['FRAMECRAFT_TEST_SLOT'], settings.REDIS_URL)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out[0] != os.environ["FRAMECRAFT_TEST_SLOT"]
    assert out[1].endswith(f"/{out[0]}")
