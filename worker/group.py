"""A multi-GPU worker: one process per GPU in a persistent process group, and its supervisor.

    python -m worker.group --gpus 4 --queues gpu-80g --hostname group0@%h

The supervisor starts the ranks the way torchrun does (RANK, LOCAL_RANK, WORLD_SIZE,
MASTER_ADDR, MASTER_PORT; torch.distributed's env:// rendezvous). Rank 0 is the Celery worker
(solo pool: jobs run in the process that holds the group): it claims each job once for the
group, and the other ranks follow it (worker.runtime.parallel). When any rank exits, the
supervisor stops the others (rank 0 may first leave by itself), re-queues the job the group
held, as the reaper would for a dead worker (lifecycle.worker_gone), and starts the group
again. SIGTERM: rank 0 finishes its job
(Celery's warm shutdown), tells the others to quit, and the supervisor exits.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("framecraft.group")

ROOT = Path(__file__).resolve().parent.parent
# Restarts closer together than this count as a crash loop and back off, up to a minute.
QUICK_CRASH_S = 60.0
STOP_GRACE_S = 15.0
# How long rank 0 may take to leave by itself after another rank died.
LEADER_GRACE_S = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _node_name(hostname: str) -> str:
    return hostname.replace("%h", socket.gethostname()).replace("%n", hostname.split("@")[0])


class Supervisor:
    """Starts, watches and restarts one process group."""

    def __init__(self, gpus: int, queues: str, hostname: str, loglevel: str,
                 devices: list[str]) -> None:
        self.gpus, self.queues, self.loglevel = gpus, queues, loglevel
        self.hostname = _node_name(hostname)
        self.devices = devices
        self.ranks: list[subprocess.Popen[bytes]] = []
        self.stopping = False
        self.starts = 0

    def _spawn(self) -> None:
        port = _free_port()
        self.ranks = []
        for rank in range(self.gpus):
            env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank),
                       WORLD_SIZE=str(self.gpus), LOCAL_WORLD_SIZE=str(self.gpus),
                       MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), PYTHONUNBUFFERED="1")
            env.setdefault("OMP_NUM_THREADS", "1")  # as torchrun does for several processes
            if self.devices:
                env["FRAMECRAFT_DEVICE"] = self.devices[rank]
            args = [sys.executable, "-m", "worker.group", "--rank-process",
                    "--queues", self.queues, "--hostname", self.hostname,
                    "--loglevel", self.loglevel]
            self.ranks.append(subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True))
        self.starts += 1
        log.info("group %s started: %d ranks, pids %s", self.hostname, self.gpus,
                 [rank.pid for rank in self.ranks])

    def leader_name(self) -> str:
        return f"{self.hostname}:{self.ranks[0].pid}"

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.stopping:  # a second signal: no more waiting
            self._kill_all(signal.SIGKILL)
            return
        self.stopping = True
        log.info("group %s stopping: rank 0 finishes its job first", self.hostname)
        if self.ranks and self.ranks[0].poll() is None:
            self.ranks[0].send_signal(signal.SIGTERM)

    def _kill_all(self, sig: int) -> None:
        for rank in self.ranks:
            if rank.poll() is None:
                rank.send_signal(sig)

    def _stop_all(self) -> None:
        self._kill_all(signal.SIGKILL)  # the others are stuck in a collective or idle
        for rank in self.ranks:
            rank.wait()

    def run(self) -> int:
        from generation import fleet, lifecycle

        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        delay = 1.0
        while True:
            started = time.monotonic()
            self._spawn()
            exited = self._wait_for_an_exit()
            codes = self.settle(exited)
            name = self.leader_name()
            requeued = lifecycle.worker_gone(
                name, f"A GPU process of the group running this job ({name}, rank {exited}) "
                      "stopped.")
            fleet.gone(name)
            if self.stopping:
                log.info("group %s stopped (exit codes %s)", self.hostname, codes)
                return 0
            log.warning("group %s: rank %d exited (codes %s); %d job(s) re-queued; restarting",
                        self.hostname, exited, codes, requeued)
            delay = min(60.0, delay * 2) if time.monotonic() - started < QUICK_CRASH_S else 1.0
            self._sleep(delay)
            if self.stopping:
                return 0

    def settle(self, exited: int) -> list[int | None]:
        """After rank `exited` ended: give the others their chance to end on their own, stop
        what is left, and return the exit codes as they were before the stop."""
        if self.stopping:  # rank 0 finishes its job (warm shutdown) and tells the others
            waiting, grace = self.ranks, STOP_GRACE_S
        elif exited != 0:
            # Rank 0 holds the job. Told by gloo that a peer is gone, it re-queues the job and
            # exits; killed half-way, the job could be left queued with no message for any
            # worker. Where it hangs in a collective instead (NCCL), the grace bounds the wait.
            waiting, grace = self.ranks[:1], LEADER_GRACE_S
        else:
            waiting, grace = [], 0.0
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(rank.poll() is None for rank in waiting):
            time.sleep(0.05)
        codes = [rank.poll() for rank in self.ranks]
        self._stop_all()
        return codes

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(0.1)

    def _wait_for_an_exit(self) -> int:
        while True:
            for rank, process in enumerate(self.ranks):
                if process.poll() is not None:
                    return rank
            time.sleep(0.1)


def _rank_process(queues: str, hostname: str, loglevel: str) -> int:
    import django

    django.setup()
    from worker.runtime import parallel

    group = parallel.start_from_env()
    if not group.leader:
        parallel.follow()
        parallel.stop()
        return 0
    from webapp.celery import app

    app.worker_main(["worker", "--pool", "solo", "--concurrency", "1",
                     "--prefetch-multiplier", "1", "--queues", queues, "--hostname", hostname,
                     "--loglevel", loglevel, "--without-mingle", "--without-gossip"])
    parallel.stop()
    return 0


def _devices(gpus: int) -> list[str]:
    """Where each rank runs: FRAMECRAFT_DEVICE=cpu puts all on the CPU (gloo); otherwise each
    rank takes the GPU of its local rank (after CUDA_VISIBLE_DEVICES), chosen in the rank."""
    wanted = os.environ.get("FRAMECRAFT_DEVICE", "").strip()
    if wanted == "cpu":
        return ["cpu"] * gpus
    if wanted:
        raise SystemExit("FRAMECRAFT_DEVICE must be unset (one GPU per rank) or cpu for a "
                         f"process group, not {wanted!r}")
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker.group", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpus", type=int, default=None,
                        help="ranks (GPUs) in the group; default FRAMECRAFT_GPUS_PER_WORKER")
    parser.add_argument("--queues", default=None,
                        help="the job queues rank 0 serves; default FRAMECRAFT_JOB_QUEUES' first")
    parser.add_argument("--hostname", default="group@%h", help="rank 0's Celery node name")
    parser.add_argument("--loglevel", default="INFO")
    parser.add_argument("--rank-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.loglevel.upper(),
                        format="[%(asctime)s: %(levelname)s/group] %(message)s")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    if args.rank_process:
        return _rank_process(args.queues, args.hostname, args.loglevel)
    import django
    from django.conf import settings

    django.setup()
    gpus = args.gpus or settings.FRAMECRAFT_GPUS_PER_WORKER
    if gpus < 2:
        parser.error("a process group needs at least 2 GPUs: set FRAMECRAFT_GPUS_PER_WORKER "
                     "or --gpus (one GPU: run a plain Celery worker)")
    queues = args.queues or settings.FRAMECRAFT_JOB_QUEUES[0]
    supervisor = Supervisor(gpus, queues, args.hostname, args.loglevel, _devices(gpus))
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
