"""The HTML page at `/`: one random GIF and a button for another, without external assets.

The first GIF is rendered by the server (the page works without JavaScript); the button
asks /gif for the next one. Inline style and script are allowed by their hashes in the
Content-Security-Policy, nothing else is.
"""

from __future__ import annotations

import base64
import hashlib
import html

from app.db import Gif

_STYLE = """
body{margin:0;min-height:100vh;display:flex;flex-direction:column;align-items:center;
justify-content:center;gap:1rem;font:16px system-ui,sans-serif;background:#111;color:#eee}
h1{font-size:1.2rem;margin:0}
img{image-rendering:pixelated;width:192px;height:auto;border:4px solid #333;background:#222}
button{font:inherit;padding:.5rem 1.2rem;border:0;border-radius:.4rem;background:#4a8;
color:#111;cursor:pointer}
#status{min-height:1.2em;color:#f88}
"""

_SCRIPT = """
const img = document.getElementById("gif");
const title = document.getElementById("title");
const status = document.getElementById("status");
document.getElementById("next").addEventListener("click", async () => {
  status.textContent = "";
  try {
    const response = await fetch("/gif", {cache: "no-store"});
    const body = await response.json();
    if (!response.ok) { status.textContent = body.error || "no GIF right now"; return; }
    img.src = body.url;
    img.alt = body.title;
    img.width = body.width;
    img.height = body.height;
    title.textContent = body.title;
  } catch (error) {
    status.textContent = "the service did not answer";
  }
});
"""


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; img-src 'self'; connect-src 'self'; "
    f"style-src {_sha256(_STYLE)}; script-src {_sha256(_SCRIPT)}; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gifstack</title>
<style>{style}</style>
</head>
<body>
<h1 id="title">{title}</h1>
<img id="gif" src="{src}" alt="{alt}" width="{width}" height="{height}">
<button id="next" type="button">Another GIF</button>
<p id="status">{status}</p>
<script>{script}</script>
</body>
</html>
"""


def render(gif: Gif | None, problem: str = "") -> bytes:
    """The page showing `gif`, or an empty frame and `problem` when there is none."""
    if gif is None:
        values = {"title": "No GIF right now", "src": "", "alt": "", "width": 256, "height": 256}
    else:
        values = {
            "title": gif.title,
            "src": f"/gifs/{gif.id}",
            "alt": gif.title,
            "width": gif.width,
            "height": gif.height,
        }
    escaped = {key: html.escape(str(value), quote=True) for key, value in values.items()}
    return _TEMPLATE.format(
        style=_STYLE, script=_SCRIPT, status=html.escape(problem), **escaped
    ).encode()
