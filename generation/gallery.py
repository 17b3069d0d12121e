"""The personal gallery: filtering, search, keyset pages, favourites, deletion and sharing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Lookup
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from generation import keyset
from generation.media import delete_after_commit
from generation.models import Video, VideoQuerySet, Visibility

PAGE_SIZE = 24
PERIODS = {"day": timedelta(days=1), "week": timedelta(days=7),
           "month": timedelta(days=31), "year": timedelta(days=366)}
SHARE_DURATIONS = {"": None, "1d": timedelta(days=1), "7d": timedelta(days=7),
                   "30d": timedelta(days=30)}
# The sharing form's choice when a link with a lifetime is live: saving keeps its end.
KEEP_EXPIRY = "keep"
VIEW_DEDUP_SECONDS = 30 * 60
# The gallery's orders: the field a page is keyed on and whether it runs downwards (the id
# breaks ties the same way, so a cursor names one place in the order).
SORTS: dict[str, tuple[str, bool]] = {"newest": ("created_at", True),
                                      "oldest": ("created_at", False),
                                      "longest": ("duration_s", True)}
SORT_LABELS = {"newest": "Newest first", "oldest": "Oldest first", "longest": "Longest first"}


@dataclass(frozen=True)
class GalleryFilters:
    q: str = ""
    kind: str = ""
    preset: str = ""
    period: str = ""
    favourites: bool = False
    sort: str = "newest"

    @classmethod
    def from_query(cls, params: Any) -> GalleryFilters:
        period, sort = params.get("period", ""), params.get("sort", "")
        return cls(q=params.get("q", "").strip()[:200], kind=params.get("kind", ""),
                   preset=params.get("preset", ""),
                   period=period if period in PERIODS else "",
                   favourites=params.get("favourites") in ("1", "on", "true"),
                   sort=sort if sort in SORTS else "newest")

    def apply(self, videos: VideoQuerySet) -> VideoQuerySet:
        if self.kind:
            videos = videos.filter(kind=self.kind)
        if self.preset:
            videos = videos.filter(preset=self.preset)
        if self.period:
            videos = videos.filter(created_at__gte=timezone.now() - PERIODS[self.period])
        if self.favourites:
            videos = videos.filter(is_favourite=True)
        if self.q:
            videos = search(videos, self.q)
        return videos


# The stored tsvector of a video's prompt (migration 0018: a generated column, GIN-indexed, on
# PostgreSQL only, so no model field: the ORM never reads or writes it).
SEARCH_COLUMN = "prompt_search"
# A search first looks for its page among this many videos of the order (after the cursor):
# a common word fills the page there. Only a rare or absent word goes on to the GIN index,
# which then finds few rows. Without the bound the planner, misled about an absent word's
# frequency, walked the whole gallery to find nothing (8.7 s at a million videos).
SEARCH_WINDOW = 1000


class PromptMatches(Lookup):
    """`prompt_search @@ websearch_to_tsquery('english', text)` on the row's own table."""

    lookup_name = "prompt_matches"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, Any]:
        rhs, params = self.process_rhs(compiler, connection)
        column = f"{connection.ops.quote_name(self.lhs.alias)}.{SEARCH_COLUMN}"
        return f"{column} @@ websearch_to_tsquery('english'::regconfig, {rhs})", tuple(params)


def search(videos: VideoQuerySet, text: str) -> VideoQuerySet:
    """Full-text search over prompts on PostgreSQL (GIN-indexed); a plain match elsewhere."""
    if connection.vendor == "postgresql":
        return videos.filter(PromptMatches(F("prompt"), text))
    return videos.filter(prompt__icontains=text)


def page(videos: VideoQuerySet, cursor: str | None, size: int = PAGE_SIZE,
         sort: str = "newest") -> tuple[list[Video], str | None]:
    """One page in the `sort` order, after ``cursor``; keyset paging stays fast however deep."""
    field, descending = SORTS[sort]
    after = keyset.read_cursor(cursor, timed=field == "created_at") if cursor else None
    if after is not None:  # a cursor that is not one of ours gives the first page
        videos = videos.filter(keyset.after(field, *after, descending=descending))
    sign = "-" if descending else ""
    order = (f"{sign}{field}", f"{sign}id")
    unsearched = _without_search(videos)
    if unsearched is None:
        items = list(videos.order_by(*order)[: size + 1])
    else:
        items = _search_page(videos, unsearched, order, size, field, descending)
    return keyset.next_cursor(items, size, field)


def _search_page(videos: VideoQuerySet, unsearched: VideoQuerySet, order: tuple[str, str],
                 size: int, field: str, descending: bool) -> list[Video]:
    """A search's page in two bounded steps: the matches among the next SEARCH_WINDOW videos
    of the order (a walk down the order's index that stops at the window's last video); if
    they do not fill the page, the matches beyond it through the GIN index alone (a word
    that rare matches few rows), sorted."""
    last = unsearched.order_by(*order).values_list(field, "id")[
        SEARCH_WINDOW - 1:SEARCH_WINDOW].first()
    if last is None:  # fewer than a window's videos left: the walk is bounded already
        return list(videos.order_by(*order)[: size + 1])
    value, pk = last
    items = list(videos.filter(keyset.up_to(field, value, pk, descending=descending))
                 .order_by(*order)[: size + 1])
    if len(items) > size:
        return items
    beyond = videos.filter(keyset.after(field, value, pk, descending=descending)).order_by(*order)
    with transaction.atomic(), connection.cursor() as sql:
        # No index scan: the planner, sure an unseen word is common, would walk the order's
        # index again; a bitmap scan of the GIN index finds the rare matches directly.
        sql.execute("SET LOCAL enable_indexscan = off")
        try:
            items += list(beyond[: size + 1 - len(items)])
        finally:
            sql.execute("RESET enable_indexscan")
    return items


def _without_search(videos: VideoQuerySet) -> VideoQuerySet | None:
    """The same rows without the prompt search (None: there is none to take off)."""
    where = videos.query.where
    if where.connector != "AND" or where.negated:
        return None
    matches = [child for child in where.children if isinstance(child, PromptMatches)]
    if not matches:
        return None
    unsearched = videos.all()
    unsearched.query.where.children = [child for child in unsearched.query.where.children
                                       if not isinstance(child, PromptMatches)]
    return unsearched


def presets_used(user: Any) -> list[str]:
    """The models the user's videos were made with (for the gallery's filter), in order.

    A loose index scan on ``video_preset_idx``: one index probe per model. ``SELECT DISTINCT``
    read every one of the user's videos, and made the first page grow with the gallery.
    """
    table = connection.ops.quote_name(Video._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"""
            WITH RECURSIVE used(preset) AS (
                SELECT MIN(preset) FROM {table} WHERE owner_id = %s
                UNION ALL
                SELECT (SELECT MIN(preset) FROM {table}
                        WHERE owner_id = %s AND preset > used.preset)
                FROM used WHERE used.preset IS NOT NULL)
            SELECT preset FROM used WHERE preset IS NOT NULL""", [user.pk, user.pk])
        return [row[0] for row in cursor.fetchall()]


def toggle_favourite(video: Video) -> bool:
    Video.objects.filter(pk=video.pk).update(is_favourite=~F("is_favourite"))
    video.refresh_from_db(fields=["is_favourite"])
    return video.is_favourite


def share(video: Video, visibility: str, expires: str = "") -> Video:
    """Make a video private, unlisted (link only) or public; a shared video gets a link."""
    if visibility not in Visibility.values:
        raise ValueError("Unknown visibility.")
    if expires not in SHARE_DURATIONS and expires != KEEP_EXPIRY:
        raise ValueError("Unknown link lifetime.")
    was_live = video.share_is_live
    video.visibility = visibility
    if visibility == Visibility.PRIVATE:
        video.share_slug, video.share_expires_at = None, None
    elif expires == KEEP_EXPIRY:
        if not was_live:  # nothing left to keep: a fresh link that lasts until revoked
            video.share_slug, video.share_expires_at = None, None
        video.share_slug = video.share_slug or secrets.token_urlsafe(16)
    else:
        video.share_slug = video.share_slug or secrets.token_urlsafe(16)
        duration = SHARE_DURATIONS[expires]
        video.share_expires_at = timezone.now() + duration if duration else None
    video.save(update_fields=["visibility", "share_slug", "share_expires_at"])
    return video


def revoke_link(video: Video) -> Video:
    """Stop the current link from working; a later share makes a new one."""
    return share(video, Visibility.PRIVATE)


VISITOR_COOKIE = "fc_visitor"


def visitor_id(request: HttpRequest) -> str:
    """An anonymous visitor's id from its cookie (new visitors get one with the response)."""
    return request.COOKIES.get(VISITOR_COOKIE) or secrets.token_urlsafe(12)


def record_view(video: Video, request: HttpRequest, visitor: str) -> None:
    """Count a view once per visitor per half hour; the owner's own views do not count."""
    if request.user.is_authenticated and request.user.pk == video.owner_id:
        return
    if cache.add(f"video-view:{video.pk}:{visitor[:40]}", 1, VIEW_DEDUP_SECONDS):
        Video.objects.filter(pk=video.pk).update(view_count=F("view_count") + 1)


@receiver(post_delete, sender=Video)
def _delete_files(sender: type[Video], instance: Video, **kwargs: Any) -> None:
    """Remove a deleted video's files, once the deletion is committed."""
    delete_after_commit(instance.file, instance.poster)
