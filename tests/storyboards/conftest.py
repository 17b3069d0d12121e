"""The worker of a fresh machine with the demo models (job and models queues), as the demo job
tests start it."""

from tests.worker_runtime.test_demo_jobs import demo_worker, worker  # noqa: F401 (fixtures)
