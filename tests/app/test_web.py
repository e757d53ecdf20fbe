"""app/web.py over real HTTP: the service as a subprocess on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time

import asyncpg
import httpx
import pytest

from app.seed import bundled
from tests.support.app_service import Service, app_env, prepare


@pytest.fixture(scope="module")
def service(postgres) -> Service:
    """One seeded database and one running service for this module's read-only tests."""

    async def create() -> None:
        connection = await asyncpg.connect(postgres.url_for("postgres"))
        await connection.execute('DROP DATABASE IF EXISTS "web_tests" WITH (FORCE)')
        await connection.execute('CREATE DATABASE "web_tests"')
        await connection.close()

    asyncio.run(create())
    url = postgres.url_for("web_tests")
    prepare(url)
    with Service(app_env(DATABASE_URL=url)) as running:
        yield running


GIFS = {gif.sha256: gif for gif in bundled()}


def test_gif_returns_a_random_gif_as_json(service):
    response = service.get("/gif")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"id", "title", "width", "height", "url"}
    assert body["url"] == f"/gifs/{body['id']}"
    assert (body["width"], body["height"]) == (64, 64)
    assert body["title"] in {gif.title for gif in GIFS.values()}


def test_gif_picks_every_gif_sooner_or_later(service):
    seen = {service.get("/gif").json()["id"] for _ in range(150)}
    # Evenly spaced pick keys give each of the n GIFs probability 1/n per request; missing
    # one in 150 draws has a chance below 14 * (13/14)^150 ~ 2e-4.
    assert len(seen) == len(GIFS)


def test_image_is_served_with_etag_and_long_cache(service):
    gif_id = service.get("/gif").json()["id"]
    response = service.get(f"/gifs/{gif_id}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    digest = hashlib.sha256(response.content).hexdigest()
    assert digest in GIFS, "the bytes must be one of the bundled files, unchanged"
    assert response.headers["etag"] == f'"{digest}"'
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.content[:6] == b"GIF89a"


@pytest.mark.parametrize(
    "if_none_match",
    ['"{etag}"', 'W/"{etag}"', '"other", "{etag}"', "*"],
)
def test_if_none_match_answers_304(service, if_none_match):
    gif_id = service.get("/gif").json()["id"]
    etag = service.get(f"/gifs/{gif_id}").headers["etag"].strip('"')
    response = service.get(
        f"/gifs/{gif_id}", headers={"If-None-Match": if_none_match.format(etag=etag)}
    )
    assert response.status_code == 304
    assert response.content == b""
    assert "content-length" not in response.headers
    assert response.headers["etag"] == f'"{etag}"'


def test_a_stale_etag_gets_the_image(service):
    gif_id = service.get("/gif").json()["id"]
    response = service.get(f"/gifs/{gif_id}", headers={"If-None-Match": '"stale"'})
    assert response.status_code == 200
    assert response.content[:6] == b"GIF89a"


BAD_ID = {"error": "a GIF id is a whole number from 1 to 2147483647, e.g. /gifs/1"}


@pytest.mark.parametrize(
    "raw",
    ["abc", "0", "-1", "1.5", "01", "1e3", "", "%20", "\u0661", "2147483648", "9" * 20],
)
def test_malformed_id_is_400_json(service, raw):
    response = service.get(f"/gifs/{raw}")
    assert response.status_code == 400
    assert response.json() == BAD_ID


@pytest.mark.parametrize("digits", [4301, 10_000])
def test_an_id_of_thousands_of_digits_is_400_without_an_error_log_line(service, digits):
    """int() refuses more than 4,300 digits: the length is checked before converting."""
    response = service.get("/gifs/" + "7" * digits)
    assert response.status_code == 400
    assert response.json() == BAD_ID
    service.wait_until(lambda: '"status":400' in service.output(), timeout_s=3)
    time.sleep(0.3)  # a log line of the fault, if any, would follow the request line
    assert not [line for line in service.logs() if line["level"] == "error"]
    assert "Traceback" not in service.output()


@pytest.mark.parametrize("gif_id", ["999999", "2147483647"])
def test_unknown_id_is_404_json(service, gif_id):
    response = service.get(f"/gifs/{gif_id}")
    assert response.status_code == 404
    assert response.json() == {"error": f"no GIF with id {int(gif_id)}"}


@pytest.mark.parametrize("path", ["/nope", "/gif/", "/gifs", "/healthz/x", "/GIF"])
def test_unknown_route_is_404_json(service, path):
    response = service.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"].startswith("no such route")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405_with_allow(service, method):
    response = service.client.request(method, "/gif")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert "error" in response.json()


def test_head_answers_like_get_without_a_body(service):
    response = service.client.head("/healthz")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "15"


def test_healthz(service):
    response = service.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_page_embeds_a_gif_without_external_assets(service):
    response = service.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    src = re.search(r'<img id="gif" src="(/gifs/\d+)"', html)[1]
    assert service.get(src).status_code == 200
    # Nothing loaded from elsewhere: no absolute URLs in src/href, and the CSP forbids it.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "img-src 'self'" in csp


def test_metrics_count_requests_by_route_and_status(service):
    service.get("/gifs/abc")
    service.get("/healthz")
    text = service.metrics()
    assert re.search(
        r'^gif_http_requests_total\{route="/gifs/\{id\}",method="GET",status="400"\} [1-9]\d*$',
        text,
        re.M,
    )
    assert re.search(
        r'^gif_http_request_duration_seconds_count\{route="/healthz",method="GET",status="200"\} '
        r"[1-9]\d*$",
        text,
        re.M,
    )
    in_use = int(re.search(r'^gif_db_pool_connections\{state="in_use"\} (\d+)$', text, re.M)[1])
    idle = int(re.search(r'^gif_db_pool_connections\{state="idle"\} (\d+)$', text, re.M)[1])
    assert in_use == 0 and idle >= 1  # /gif requests above opened connections; none busy now
    assert re.search(r"^gif_db_pool_max_connections 10$", text, re.M)


def test_metrics_only_on_the_metrics_port(service):
    """The load balancer exposes the main port: /metrics is not there."""
    response = service.get("/metrics")
    assert response.status_code == 404
    assert response.json()["error"].startswith("no such route")
    assert service.metrics_url.endswith("/metrics")
    assert service.metrics_url.rsplit(":", 1)[0] == service.url.rsplit(":", 1)[0]  # same host
    assert service.metrics_url != f"{service.url}/metrics"
    metrics_root = service.metrics_url.removesuffix("/metrics")
    for path in ("/gif", "/healthz", "/gifs/1", "/"):  # and nothing else on that port
        assert httpx.get(f"{metrics_root}{path}", timeout=5).status_code == 404
    assert "gif_http_requests_total" in service.metrics()


def test_unknown_routes_share_one_metrics_label(service):
    service.get("/random-path-1")
    service.get("/random-path-2")
    text = service.metrics()
    assert "random-path" not in text
    assert 'route="unmatched"' in text


def test_one_json_log_line_per_request(service):
    marker = "/gifs/123456789"
    started = time.perf_counter()
    service.get(marker)
    round_trip_ms = (time.perf_counter() - started) * 1000
    service.wait_until(lambda: marker in service.output(), timeout_s=3)
    lines = [entry for entry in service.logs() if entry.get("path") == marker]
    assert len(lines) == 1
    line = lines[0]
    assert line["msg"] == "request"
    assert (line["method"], line["status"]) == ("GET", 404)
    # The server's own time for the request: within what the client waited for it.
    assert 0 <= line["duration_ms"] <= round_trip_ms
    assert {"time", "level"} <= set(line)


def test_query_strings_are_not_logged(service):
    service.get("/healthz", params={"token": "do-not-log-me"})
    service.wait_until(lambda: service.output().count('"path":"/healthz"') > 0, timeout_s=3)
    assert "do-not-log-me" not in service.output()


def test_empty_catalogue_is_503_not_ready(database_url):
    prepare(database_url, seeded=False)
    with Service(app_env(DATABASE_URL=database_url)) as service:
        response = service.get("/gif")
        assert response.status_code == 503
        assert response.json() == {"error": "no GIFs loaded yet"}
        assert service.get("/").status_code == 503
        assert service.get("/healthz").status_code == 200


def test_unmigrated_database_is_503_with_a_reason(database_url):
    with Service(app_env(DATABASE_URL=database_url)) as service:
        response = service.get("/gif")
        assert response.status_code == 503
        assert response.json() == {"error": "database not migrated yet"}
        assert response.headers["retry-after"] == "1"
        assert service.get("/gifs/1").status_code == 503
        service.wait_until(lambda: "python -m app migrate" in service.output(), timeout_s=3)


# --- faults, in process (the ASGI app itself) -------------------------------------------------


class UnreachableDatabase:
    """Opening fails the way asyncpg does when nothing listens (the URL carries a password)."""

    def __init__(self) -> None:
        self.closed = False

    async def open(self) -> None:
        raise OSError("could not connect to postgresql://gif:s3cr3t@10.9.9.9:5432/gif")

    async def close(self) -> None:
        self.closed = True

    def pool_stats(self) -> tuple[int, int, int]:
        return (0, 0, 0)


def _lifespan(app) -> list[dict]:
    sent: list[dict] = []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict:
        return next(messages)

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))
    return sent


def test_startup_fails_cleanly_when_the_database_is_unreachable():
    from app.web import GifApp

    sent = _lifespan(GifApp(UnreachableDatabase()))

    assert [m["type"] for m in sent] == ["lifespan.startup.failed"]
    assert sent[0]["message"].startswith("OSError: could not connect")
    assert "s3cr3t" not in sent[0]["message"]  # the URL's password is scrubbed


def test_an_unexpected_fault_is_a_500_json_answer_counted_and_logged_once(caplog):
    from app.web import GifApp

    app = GifApp(UnreachableDatabase())

    async def broken(scope: dict):
        raise RuntimeError("boom")

    app._routes["/gif"] = ("/gif", broken)
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/gif", "method": "GET", "headers": [], "server": None}
    asyncio.run(app._http(scope, send))

    start, body = sent
    assert start["status"] == 500
    assert b"internal error" in body["body"]
    assert b"boom" not in body["body"]  # no detail of the fault reaches the client
    faults = [r for r in caplog.records if r.getMessage() == "unexpected error"]
    assert len(faults) == 1
    text = app.metrics.render().decode()
    assert 'route="/gif"' in text and 'status="500"' in text
