"""Gallery, search, favourites, deep pages, Explore and a public profile at scale (PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/framecraft_bench \\
        .venv/bin/python bench/gallery.py [--videos 10000,100000,1000000] \\
        [--public 1000000 --people 10000] [--requests 200] [--rounds 3] [--plans] [--drop]

Creates the database when it is missing (PostgreSQL: through the ``postgres`` maintenance
database; SQLite: the file) and migrates it, or reuses it. Rows go in through SQL
(``INSERT … SELECT … FROM generate_series``: a million rows in about a minute; through the ORM
it would take an hour): first ``--public`` public videos spread over ``--people`` people (for
Explore and the profiles), then one person's videos grown scale by scale (``--videos``, each
size in turn, in the same table). At each scale it times requests through Django's test client —
the whole view stack: middleware, session and user lookup, the view, its queries and the template;
no network, so this is server time — and prints p50/p95 per round, the queries per page, and the
plan (``EXPLAIN ANALYZE``) of the page's main query on the videos table. The summary compares
each case's p95 at the largest scale with the smallest (flat means ≤ 1.2 times).

``--drop`` drops the database at the end (a million-row run leaves about 1 GB otherwise); a
later run without it reuses the rows already there. SQLite runs the same cases with the ORM's
rows (small sizes only: it is for a quick look, not for the figures).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = [
    "fox", "lighthouse", "river", "neon", "city", "forest", "storm", "paper", "crane", "owl",
    "desert", "snow", "ocean", "robot", "garden", "train", "night", "sunrise", "glass",
    "mountain", "whale", "market", "lantern", "dragon", "cat", "rain", "bridge", "castle",
    "comet", "violin",
]
PRESETS = ["tiny", "wan21-t2v-1.3b", "ltx-video", "wan22-ti2v-5b", "cogvideox-2b"]
KINDS = ["t2v", "i2v", "v2v"]
PERSON = "bench-gallery"
PEOPLE_PREFIX = "bench-pub-"
CHUNK = 100_000
GALLERY_TARGET_MS, PUBLIC_TARGET_MS, FLAT = 30.0, 50.0, 1.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", default="10000",
                        help="the person's video counts to measure at, comma-separated")
    parser.add_argument("--public", type=int, default=0, help="public videos of other people")
    parser.add_argument("--people", type=int, default=10_000, help="people owning them")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per case")
    parser.add_argument("--plans", action="store_true", help="print every case's plan")
    parser.add_argument("--person", default=PERSON,
                        help="whose videos (another name: another gallery in the same table)")
    parser.add_argument("--skip", default="",
                        help="leave out the cases whose label holds this text (e.g. zebra)")
    parser.add_argument("--only", default="",
                        help="only the cases whose label holds this text (e.g. search)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per case")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = parser.parse_args()
    scales = sorted(int(size.replace("_", "")) for size in args.videos.split(","))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    import django

    django.setup()
    from bench.studio_db import drop_database, ready_studio

    try:
        with ready_studio():
            run(scales, args)
    finally:
        if args.drop:
            drop_database()


def run(scales: list[int], args: argparse.Namespace) -> None:
    from django.db import connection

    from accounts.models import User
    from generation.models import Video

    person, _ = User.objects.get_or_create(username=args.person,
                                           defaults={"email": "bench@example.com"})
    if args.public:
        fill_public(args.public, args.people)
    results: dict[int, dict[str, float]] = {}
    for size in scales:
        fill_person(person, size)
        analyze()
        size = Video.objects.filter(owner=person).count()  # a reused database may hold more
        print(f"\n== {size} videos for one user on {connection.vendor}, "
              f"{public_count()} public videos of other people; "
              f"{args.rounds} rounds × {args.requests} requests per case, server time "
              "through Django's test client ==", flush=True)
        results[size] = measure(person, args.requests, args.rounds, args.plans, args.skip,
                                args.only, args.warmup)
    if len(results) > 1:
        small, large = min(results), max(results)
        print(f"\nflatness, p95 at {large} over p95 at {small} (target ≤ {FLAT}×):")
        for label, p95 in results[large].items():
            ratio = p95 / results[small][label]
            print(f"  {label:34s} {results[small][label]:6.1f} → {p95:6.1f} ms  "
                  f"{ratio:4.2f}×  {'ok' if ratio <= FLAT else 'OVER'}")


# --- rows ---------------------------------------------------------------------------------

_INSERT = """
INSERT INTO generation_video (id, owner_id, file, poster, width, height, fps, frame_count,
    duration_s, size_bytes, recipe, created_at, kind, preset, prompt, is_favourite,
    visibility, view_count)
SELECT gen_random_uuid(), {owner}, 'videos/bench/' || n || '.mp4',
    'posters/bench/' || n || '.jpg', 128, 128, 8, 17, 1 + (n %% 97) / 10.0, 100000,
    jsonb_build_object('seed', n), %(start)s - make_interval(secs => n * %(step)s),
    (%(kinds)s::text[])[1 + n %% 3], (%(presets)s::text[])[1 + n %% 5], words.prompt,
    n %% 10 = 0, %(visibility)s, 0
FROM generate_series(%(first)s, %(last)s) AS n
CROSS JOIN LATERAL (
    -- n in the WHERE makes this a correlated subquery: fresh words for every row.
    SELECT string_agg((%(words)s::text[])[1 + floor(random() * 30)::int], ' ') AS prompt
    FROM generate_series(1, 8) WHERE n IS NOT NULL) AS words
"""


def insert_videos(owner_sql: str, first: int, last: int, step_s: int, visibility: str,
                  extra: dict[str, Any] | None = None) -> None:
    """Videos number `first`…`last` (inclusive) in one statement, `step_s` seconds apart going
    back from now, of the owner `owner_sql` names (an SQL expression of ``n``, or a parameter
    in `extra`); words, models, kinds and favourites (every tenth) spread over them."""
    from django.db import connection
    from django.utils import timezone

    with connection.cursor() as cursor:
        cursor.execute(_INSERT.format(owner=owner_sql), {
            "start": timezone.now(), "step": step_s, "kinds": KINDS, "presets": PRESETS,
            "words": WORDS, "visibility": visibility, "first": first, "last": last,
            **(extra or {})})


def fill_person(person: Any, size: int) -> None:
    """Grow the person's private videos to `size`, a minute apart, newest first."""
    from django.db import connection

    from generation.models import Video

    have = Video.objects.filter(owner=person).count()
    if have >= size:
        return
    started = time.perf_counter()
    if connection.vendor != "postgresql":
        _orm_fill(person, have, size)
    else:
        for first in range(have, size, CHUNK):
            insert_videos("%(owner)s", first, min(size, first + CHUNK) - 1, 60, "private",
                    {"owner": person.pk})
            print(f"  {min(size, first + CHUNK)} of the person's videos", flush=True)
    print(f"filled the person's videos {have} → {size} in "
          f"{time.perf_counter() - started:.0f} s", flush=True)


def fill_public(videos: int, people: int) -> None:
    """`people` people (bench-pub-0…) with `videos` public videos between them."""
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("--public needs PostgreSQL")
    if public_count() >= videos:
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO accounts_user (password, is_superuser, username, first_name,
                last_name, email, is_staff, is_active, date_joined, display_name, bio)
            SELECT '!', false, %(prefix)s || n, '', '', '', false, true, now(), '', ''
            FROM generate_series(0, %(last)s) AS n ON CONFLICT (username) DO NOTHING""",
                       {"prefix": PEOPLE_PREFIX, "last": people - 1})
    have = public_count()
    ids = ("(SELECT array_agg(id ORDER BY id) FROM accounts_user "
           f"WHERE username LIKE '{PEOPLE_PREFIX}%%')")
    for first in range(have, videos, CHUNK):
        insert_videos(f"({ids})[1 + n %% {people}]", first, min(videos, first + CHUNK) - 1, 30,
                "public")
        print(f"  {min(videos, first + CHUNK)} public videos", flush=True)
    print(f"filled {videos} public videos of {people} people in "
          f"{time.perf_counter() - started:.0f} s", flush=True)


def _orm_fill(person: Any, have: int, size: int) -> None:
    from django.utils import timezone

    from generation.models import Video

    rng, now = random.Random(have), timezone.now()
    Video.objects.bulk_create([
        Video(owner=person, prompt=" ".join(rng.choices(WORDS, k=8)), preset=PRESETS[n % 5],
              kind=KINDS[n % 3], width=128, height=128, fps=8, frame_count=17,
              duration_s=1 + (n % 97) / 10, size_bytes=100_000, recipe={"seed": n},
              file=f"videos/bench/{n}.mp4", poster=f"posters/bench/{n}.jpg",
              is_favourite=n % 10 == 0, created_at=now - timedelta(minutes=n))
        for n in range(have, size)], batch_size=2000)


def public_count() -> int:
    from generation.models import Video

    return Video.objects.public().count()


def analyze() -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE generation_video")


# --- timing -------------------------------------------------------------------------------

def cursor_at(videos: Any, index: int) -> str:
    """The keyset cursor of the `index`-th video in gallery order (a deep page's link)."""
    from generation import keyset

    video = videos.order_by("-created_at", "-id")[index]
    return keyset.cursor_of(video.created_at, video.id)


def cases(person: Any) -> dict[str, tuple[str, bool, float]]:
    """label → (url, signed in, target p95 ms)."""
    from accounts.models import User
    from generation.models import Video

    mine = Video.objects.filter(owner=person)
    count = mine.count()
    found: dict[str, tuple[str, bool, float]] = {
        # The same page with no videos: the stack's and the template's floor on this machine
        # at this moment (others' work included), next to which the rest reads.
        "baseline: an empty gallery": ("/gallery/", False, GALLERY_TARGET_MS),
        "gallery, first page": ("/gallery/", True, GALLERY_TARGET_MS),
        "gallery, next page (htmx)": ("/gallery/?after=" + cursor_at(mine, min(23, count - 1)),
                                      True, GALLERY_TARGET_MS),
        "gallery, deep page (htmx, middle)": ("/gallery/?after=" + cursor_at(mine, count // 2),
                                        True, GALLERY_TARGET_MS),
        "gallery, oldest first": ("/gallery/?sort=oldest", True, GALLERY_TARGET_MS),
        "gallery, longest first": ("/gallery/?sort=longest", True, GALLERY_TARGET_MS),
        "gallery, one model": ("/gallery/?preset=ltx-video", True, GALLERY_TARGET_MS),
        "favourites": ("/gallery/?favourites=1", True, GALLERY_TARGET_MS),
        "search 'lighthouse storm'": ("/gallery/?q=lighthouse+storm", True, GALLERY_TARGET_MS),
        "search 'owl' + favourites": ("/gallery/?q=owl&favourites=1", True, GALLERY_TARGET_MS),
        "search, no match ('zebra')": ("/gallery/?q=zebra", True, GALLERY_TARGET_MS),
    }
    public = Video.objects.public()
    public_count = public.count()
    if public_count:
        someone = User.objects.filter(username=f"{PEOPLE_PREFIX}42").first()
        found["Explore, first page"] = ("/explore/", False, PUBLIC_TARGET_MS)
        found["Explore, deep page (htmx, middle)"] = (
            "/explore/?after=" + cursor_at(public, public_count // 2), False, PUBLIC_TARGET_MS)
        if someone is not None:
            found["public profile"] = (f"/u/{someone.username}/", False, PUBLIC_TARGET_MS)
    return found


def measure(person: Any, requests: int, rounds: int, plans: bool, skip: str = "",
            only: str = "", warmup: int = 5) -> dict[str, float]:
    """Each case's median-of-rounds p95 (ms), printed with its rounds and plan."""
    from django.test import Client

    from accounts.models import User

    signed_in, anonymous, empty = Client(), Client(), Client()
    signed_in.force_login(person)
    empty.force_login(User.objects.get_or_create(username=f"{PERSON}-empty")[0])
    found: dict[str, tuple[Callable[[], Any], float]] = {}
    for label, (url, private, target) in cases(person).items():
        if (skip and skip in label) or (only and only not in label
                                         and not label.startswith("baseline")):
            continue
        client = (empty if label.startswith("baseline") else signed_in if private
                  else anonymous)
        headers = {"HTTP_HX_REQUEST": "true"} if "htmx" in label else {}

        def get(client: Any = client, url: str = url, headers: dict[str, str] = headers
                ) -> Any:
            return client.get(url, **headers)

        found[label] = (get, target)
    return measure_cases(found, requests, rounds, plans, warmup=warmup)


def measure_cases(found: dict[str, tuple[Callable[[], Any], float]], requests: int,
                  rounds: int, plans: bool, table: str = "generation_video",
                  warmup: int = 5) -> dict[str, float]:
    """Time each case's request (label → (request, target p95 ms)): a warm-up, then `rounds`
    rounds of `requests`; print p50, the median of the rounds' p95 and each round's, the
    queries one request makes and (with `plans`) its slowest query's plan."""
    results: dict[str, float] = {}
    for label, (get, target) in found.items():
        for _ in range(warmup):
            get()  # warm up: caches, the plan, the template
        p95s, p50s = [], []
        for _ in range(rounds):
            times = timed(get, requests)
            p50s.append(statistics.median(times))
            p95s.append(times[max(0, int(len(times) * 0.95) - 1)])
        p95 = statistics.median(p95s)
        results[label] = p95
        queries, plan = main_plan(get, table)
        print(f"  {label:34s} p50 {statistics.median(p50s):6.1f}  p95 {p95:6.1f} ms "
              f"(rounds: {' / '.join(f'{value:.1f}' for value in p95s)}), {queries} queries  "
              f"{'ok' if p95 <= target else 'OVER'} (target p95 ≤ {target:.0f} ms)",
              flush=True)
        if plans and plan:
            print("      " + plan.replace("\n", "\n      "))
    return results


def timed(get: Callable[[], Any], requests: int) -> list[float]:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = get()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return sorted(times)


def main_plan(get: Callable[[], Any], table: str = "generation_video") -> tuple[int, str]:
    """How many queries one request makes, and the plan of its slowest one on `table`
    (EXPLAIN ANALYZE, run again on its own)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        get()
    # Each query with the planner settings it ran under (a search's GIN step turns index
    # scans off with SET LOCAL): replayed without them, its plan would be another one.
    videos, settings = [], []
    for query in captured.captured_queries:
        if query["sql"].startswith("SET LOCAL"):
            settings.append(query["sql"])
        elif query["sql"].startswith("RESET"):
            settings = []
        elif table in query["sql"]:
            videos.append((query, list(settings)))
    if connection.vendor != "postgresql" or not videos:
        return len(captured), ""
    slowest, under = max(videos, key=lambda pair: float(pair[0]["time"]))
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in under:
            cursor.execute(setting)
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + slowest["sql"])
        lines = [*under, *(row[0] for row in cursor.fetchall())]
        for setting in under:
            cursor.execute("RESET " + setting.split()[2])
    return len(captured), "\n".join(lines)


if __name__ == "__main__":
    main()
