"""What PostgreSQL's plan of a request's queries read: for tests that hold a page to reading
about a page of rows however big its table grows (EXPLAIN ANALYZE of the very queries the view
ran)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def rows_read(client: Any, url: str, table: str = "generation_video", **headers: str
              ) -> dict[str, int]:
    """For each query on `table` one request makes: the rows its plan read from the table
    (rows returned by the scans plus those their filters threw away)."""
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, **headers).status_code == 200
    read = {}
    for query in captured.captured_queries:
        if table not in query["sql"]:
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query["sql"])
            plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        read[query["sql"]] = sum(
            (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
             + node.get("Rows Removed by Index Recheck", 0)) * node.get("Actual Loops", 1)
            for node in plan_nodes(plan[0]["Plan"])
            if node.get("Relation Name") == table)
    return read


def over(read: dict[str, int], limit: int) -> str:
    """The plans of the queries that read more than `limit` rows, for a failure's message."""
    texts = []
    for sql, rows in read.items():
        if rows > limit:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            texts.append(f"{rows} rows read by:\n{sql}\n{plan}")
    return "\n\n".join(texts)
