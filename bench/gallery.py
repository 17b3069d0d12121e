"""Gallery and search server time with 10,000 videos for one user (run it on PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/framecraft_bench \\
        .venv/bin/python bench/gallery.py [--videos 10000] [--requests 200]

Creates the database when it is missing (PostgreSQL: through the ``postgres`` maintenance
database; SQLite: the file), or reuses it, fills it once, then times requests through Django's test
client (the whole view, template and queries: server time, no network) and prints p50/p95.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = [
    "fox", "lighthouse", "river", "neon", "city", "forest", "storm", "paper", "crane", "owl",
    "desert", "snow", "ocean", "robot", "garden", "train", "night", "sunrise", "glass",
    "mountain", "whale", "market", "lantern", "dragon", "cat", "rain", "bridge", "castle",
    "comet", "violin",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=10_000, help="videos for the one user")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per case")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from bench.studio_db import ready_studio
    from generation.models import Video

    ready_studio()
    user, _ = User.objects.get_or_create(username="bench-gallery",
                                         defaults={"email": "bench@example.com"})
    have = Video.objects.filter(owner=user).count()
    if have < args.videos:
        rng = random.Random(0)
        now = timezone.now()
        Video.objects.bulk_create([
            Video(owner=user, prompt=" ".join(rng.choices(WORDS, k=8)), preset="tiny",
                  width=128, height=128, fps=8, frame_count=17, duration_s=2.1,
                  size_bytes=100_000, recipe={"seed": n}, file=f"videos/bench/{n}.mp4",
                  poster=f"posters/bench/{n}.jpg", is_favourite=n % 10 == 0,
                  created_at=now - timedelta(minutes=n))
            for n in range(have, args.videos)
        ], batch_size=2000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE generation_video")

    client = Client()
    client.force_login(user)
    cases = {
        "gallery, first page": lambda: "/gallery/",
        "gallery, deep page (keyset)": lambda: "/gallery/?after=" + deep_cursor,
        "search 'lighthouse storm'": lambda: "/gallery/?q=lighthouse+storm",
        "search + favourites": lambda: "/gallery/?q=owl&favourites=1",
    }
    count = Video.objects.filter(owner=user).count()
    first = Video.objects.filter(owner=user).order_by("-created_at", "-id")[
        min(5000, count // 2)]
    deep_cursor = f"{first.created_at.isoformat()}|{first.id}".replace("+", "%2B")
    print(f"{count} videos for one user on "
          f"{connection.vendor}; {args.requests} requests per case")
    for label, url in cases.items():
        for _ in range(5):
            client.get(url())  # warm up
        times = []
        for _ in range(args.requests):
            started = time.perf_counter()
            response = client.get(url())
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        times.sort()
        p95 = times[max(0, int(len(times) * 0.95) - 1)]
        print(f"  {label:30s} p50 {statistics.median(times):6.1f} ms   p95 {p95:6.1f} ms"
              f"   {'ok' if p95 <= 50 else 'OVER'} (target p95 ≤ 50 ms)")


if __name__ == "__main__":
    main()
