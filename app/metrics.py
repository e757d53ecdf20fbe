"""Prometheus metrics in the text exposition format (version 0.0.4), kept in memory.

Small on purpose: request counts and a latency histogram by route, method and status,
connections and requests refused by the server's limits (app.protocol), and the pool's
connections. `observe` runs once per request, so it is a dict lookup and
a bisect.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _Series:
    __slots__ = ("buckets", "count", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(BUCKETS) + 1)  # the last one is +Inf
        self.count = 0
        self.total = 0.0


class Metrics:
    def __init__(self, pool_stats: Callable[[], tuple[int, int, int]]):
        self._series: dict[tuple[str, str, int], _Series] = {}
        self._refused: dict[str, int] = {}
        self._pool_stats = pool_stats

    def refused(self, reason: str) -> None:
        """A connection or request refused by a limit (a fixed set of reasons)."""
        self._refused[reason] = self._refused.get(reason, 0) + 1

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series()
        series.buckets[bisect_left(BUCKETS, seconds)] += 1
        series.count += 1
        series.total += seconds

    def render(self) -> bytes:
        lines = [
            "# HELP gif_http_requests_total HTTP requests answered, by route, method and status.",
            "# TYPE gif_http_requests_total counter",
        ]
        ordered = sorted(self._series.items())
        for (route, method, status), series in ordered:
            lines.append(
                f"gif_http_requests_total{{{_labels(route, method, status)}}} {series.count}"
            )
        lines += [
            "# HELP gif_http_request_duration_seconds Time to answer HTTP requests.",
            "# TYPE gif_http_request_duration_seconds histogram",
        ]
        for (route, method, status), series in ordered:
            labels = _labels(route, method, status)
            cumulative = 0
            for bound, count in zip((*BUCKETS, "+Inf"), series.buckets, strict=True):
                cumulative += count
                lines.append(
                    f'gif_http_request_duration_seconds_bucket{{{labels},le="{bound}"}} '
                    f"{cumulative}"
                )
            lines.append(f"gif_http_request_duration_seconds_sum{{{labels}}} {series.total!r}")
            lines.append(f"gif_http_request_duration_seconds_count{{{labels}}} {series.count}")
        lines += [
            "# HELP gif_http_refused_total Connections and requests refused by a limit, by reason.",
            "# TYPE gif_http_refused_total counter",
        ]
        for reason, count in sorted(self._refused.items()):
            lines.append(f'gif_http_refused_total{{reason="{reason}"}} {count}')
        in_use, idle, maximum = self._pool_stats()
        lines += [
            "# HELP gif_db_pool_connections Database pool connections by state.",
            "# TYPE gif_db_pool_connections gauge",
            f'gif_db_pool_connections{{state="in_use"}} {in_use}',
            f'gif_db_pool_connections{{state="idle"}} {idle}',
            "# HELP gif_db_pool_max_connections Largest size the database pool may grow to.",
            "# TYPE gif_db_pool_max_connections gauge",
            f"gif_db_pool_max_connections {maximum}",
        ]
        return ("\n".join(lines) + "\n").encode()


def _labels(route: str, method: str, status: int) -> str:
    # Routes and methods come from fixed sets (see app.web), so nothing needs escaping.
    return f'route="{route}",method="{method}",status="{status}"'
