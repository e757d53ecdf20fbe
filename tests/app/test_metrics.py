"""app/metrics.py: the Prometheus text format, cumulative histogram buckets, pool gauges."""

from __future__ import annotations

import re

from app.metrics import BUCKETS, Metrics

_SAMPLE = re.compile(r"^[a-z_]+(\{[^}]*\})? -?[0-9.e+-]+$|^# (HELP|TYPE) ")


def test_counts_and_histogram_by_route_method_and_status():
    metrics = Metrics(lambda: (2, 3, 10))
    metrics.observe("/gif", "GET", 200, 0.004)
    metrics.observe("/gif", "GET", 200, 0.005)  # on a bucket bound: counts as <= 0.005
    metrics.observe("/gif", "GET", 200, 9.0)  # beyond the largest bucket
    metrics.observe("/gif", "GET", 503, 0.5)
    text = metrics.render().decode()
    assert text.endswith("\n")
    assert all(_SAMPLE.match(line) for line in text.splitlines()), text

    labels = 'route="/gif",method="GET",status="200"'
    assert f"gif_http_requests_total{{{labels}}} 3" in text
    assert 'gif_http_requests_total{route="/gif",method="GET",status="503"} 1' in text
    bucket = (
        rf'^gif_http_request_duration_seconds_bucket\{{{re.escape(labels)},le="[^"]+"\}} (\d+)$'
    )
    buckets = [int(value) for value in re.findall(bucket, text, re.M)]
    assert len(buckets) == len(BUCKETS) + 1
    assert buckets == sorted(buckets), "buckets are cumulative"
    assert buckets[BUCKETS.index(0.0025)] == 0
    assert buckets[BUCKETS.index(0.005)] == 2
    assert buckets[-2] == 2 and buckets[-1] == 3  # 5.0 and +Inf
    assert f"gif_http_request_duration_seconds_count{{{labels}}} 3" in text
    total = float(re.search(rf"_sum\{{{re.escape(labels)}\}} (\S+)", text)[1])
    assert abs(total - 9.009) < 1e-9


def test_pool_gauges():
    text = Metrics(lambda: (2, 3, 10)).render().decode()
    assert 'gif_db_pool_connections{state="in_use"} 2' in text
    assert 'gif_db_pool_connections{state="idle"} 3' in text
    assert "gif_db_pool_max_connections 10" in text
    assert "# TYPE gif_db_pool_connections gauge" in text


def test_refusals_by_reason():
    metrics = Metrics(lambda: (0, 0, 10))
    text = metrics.render().decode()
    assert "# TYPE gif_http_refused_total counter" in text
    assert "gif_http_refused_total{" not in text  # no sample before the first refusal
    metrics.refused("head_too_large")
    metrics.refused("head_too_large")
    metrics.refused("over_capacity")
    text = metrics.render().decode()
    assert all(_SAMPLE.match(line) for line in text.splitlines()), text
    assert 'gif_http_refused_total{reason="head_too_large"} 2' in text
    assert 'gif_http_refused_total{reason="over_capacity"} 1' in text
