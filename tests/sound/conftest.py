"""The API client fixtures, for the downloads the CLI makes, and the worker of a fresh machine
with the demo models, as the demo job tests start it."""

from tests.api.conftest import api, owner_key  # noqa: F401 (fixtures)
from tests.worker_runtime.test_demo_jobs import demo_worker, worker  # noqa: F401 (fixtures)
