"""The kiosk's first-load weight for bench/submissions.py: GET /kiosk/ and every same-origin
script, stylesheet, manifest and ES module it pulls in, in bytes as sent on the wire.

Imported by bench/submissions.py (run it, not this module).
"""

import gzip
import http.client
import importlib
import math
import re
import zlib
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

KIOSK_PATH = "/kiosk/"

_SCRIPT_SRC = re.compile(r"<script\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_LINK_HREF = re.compile(r"<link\b[^>]*?\bhref\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
# import x from "..."; import {a, b} from "..."; import "..."; export {a} from "..."
_ES_IMPORT = re.compile(
    r"""(?:^|[;\s}])(?:import|export)\s*(?:[\w$*{}\s,]+?\s*from\s*)?["']([^"'\n]+)["']""",
    re.MULTILINE,
)
_SW_REGISTER = re.compile(r"""serviceWorker\s*\.\s*register\(\s*["'`]([^"'`]+)["'`]""")
#: Same-origin paths quoted in a service worker (its precache list), fetched on its install.
_QUOTED_PATH = re.compile(r"""["'`](/(?:kiosk|static)/[^"'`\s]*)["'`]""")
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\()?\s*["']?([^"')\s;]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    body_bytes: int
    header_bytes: int
    content_type: str
    encoding: str
    text: str
    location: str = ""


def _decode(body: bytes, encoding: str) -> bytes | None:
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        try:
            brotli = importlib.import_module("brotli")  # optional: only if the server sends br
        except ImportError:
            return None
        decoded: bytes = brotli.decompress(body)
        return decoded
    return None


def http_get(port: int, url: str, host: str, accept_encoding: str = "gzip, br") -> Fetched:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host, "Accept-Encoding": accept_encoding})
        response = connection.getresponse()
        body = response.read()  # http.client leaves Content-Encoding alone: these are wire bytes
        headers = response.getheaders()
    finally:
        connection.close()
    status_line = len(f"HTTP/1.1 {response.status} {response.reason}\r\n")
    header_bytes = status_line + sum(len(k) + len(v) + 4 for k, v in headers) + 2
    encoding = (response.getheader("Content-Encoding") or "").strip().lower()
    decoded = _decode(body, encoding)
    if decoded is None:  # e.g. brotli and no decoder here: ask again, only to read it
        decoded = http_get(port, url, host, accept_encoding="identity").text.encode()
    return Fetched(
        url=url,
        status=response.status,
        body_bytes=len(body),
        header_bytes=header_bytes,
        content_type=(response.getheader("Content-Type") or "").split(";")[0].strip(),
        encoding=encoding or "identity",
        text=decoded.decode("utf-8", errors="replace"),
        location=response.getheader("Location") or "",
    )


def _references(fetched: Fetched) -> list[str]:
    kind, url = fetched.content_type, urlsplit(fetched.url).path
    found: list[str] = []
    if kind == "text/html":
        found += _SCRIPT_SRC.findall(fetched.text) + _LINK_HREF.findall(fetched.text)
        found += _ES_IMPORT.findall(fetched.text)  # inline <script type="module">
    elif "javascript" in kind or url.endswith((".js", ".mjs")):
        found += _ES_IMPORT.findall(fetched.text)
    elif kind == "text/css" or url.endswith(".css"):
        found += _CSS_IMPORT.findall(fetched.text)
    # Bare specifiers ("lit") would need an import map; only URLs and paths are followed.
    return [ref for ref in found if ref.startswith(("/", "./", "../", "http:", "https:"))]


def service_worker_extra(port: int, fetched: list[Fetched]) -> list[Fetched]:
    """What installing the kiosk's service worker adds to a first visit: itself and whatever of
    its precache list the page did not load already. Reported beside, not in, the figure."""
    if not fetched:
        return []
    origin, host = _origin(fetched[0].url), urlsplit(fetched[0].url).netloc
    seen = {item.url for item in fetched}
    extra: list[Fetched] = []
    for item in fetched:
        for reference in _SW_REGISTER.findall(item.text):
            worker_url = urljoin(item.url, reference)
            if not worker_url.startswith(origin + "/") or worker_url in seen:
                continue
            seen.add(worker_url)
            worker = http_get(port, worker_url, host)
            extra.append(worker)
            for path in _QUOTED_PATH.findall(worker.text):
                target = origin + path
                if target not in seen:
                    seen.add(target)
                    extra.append(http_get(port, target, host))
    return extra


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def kiosk_first_load(port: int, tenant_slug: str) -> tuple[float, list[Fetched]]:
    """kB (1,000 bytes) transferred for the kiosk page of ``tenant_slug`` and what it loads; nan
    if not served."""
    host = f"{tenant_slug}.localhost:{port}"
    origin = f"http://{host}"
    url = origin + KIOSK_PATH
    page = http_get(port, url, host)
    redirects: list[Fetched] = []
    while page.status in (301, 302, 303, 307, 308) and page.location and len(redirects) < 5:
        url = urljoin(url, page.location)  # same-origin redirects, e.g. /kiosk/ -> /kiosk/pair
        if not url.startswith(origin + "/"):
            break
        redirects.append(page)
        page = http_get(port, url, host)
    if page.status != 200:
        return math.nan, [page]
    fetched, queue, seen = [*redirects, page], [page], {page.url}
    while queue:
        current = queue.pop(0)
        for reference in _references(current):
            target = urljoin(current.url, reference).split("#")[0]
            if not target.startswith(origin + "/") or target in seen:
                continue
            seen.add(target)
            resource = http_get(port, target, host)
            fetched.append(resource)
            queue.append(resource)
    total = sum(item.body_bytes + item.header_bytes for item in fetched)
    return total / 1000, fetched
