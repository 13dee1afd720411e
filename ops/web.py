"""Serve the demo clinic page with the chat widget (web/), self-hosted.

Only the widget's own files are served (an allow-list, so package.json or
node_modules/ are not browsable); socket.io-client comes from
web/node_modules, installed by ops/setup_widget.sh. `/config.js` tells the
widget where the Rasa server is, so the same files work behind any address.
Security headers keep the page from loading anything that is not on this
origin or the Rasa server.
"""
from __future__ import annotations

import argparse
import json
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Optional, Tuple
from urllib.parse import urlsplit

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
SOCKET_IO_DIST = WEB_ROOT / "node_modules" / "socket.io-client" / "dist"

# URL path -> (file, content type). Nothing else is served.
STATIC: Dict[str, Tuple[Path, str]] = {
    "/": (WEB_ROOT / "index.html", "text/html; charset=utf-8"),
    "/index.html": (WEB_ROOT / "index.html", "text/html; charset=utf-8"),
    "/es.html": (WEB_ROOT / "es.html", "text/html; charset=utf-8"),  # the page in Spanish
    "/site.css": (WEB_ROOT / "site.css", "text/css; charset=utf-8"),
    "/favicon.svg": (WEB_ROOT / "favicon.svg", "image/svg+xml"),
    "/widget.css": (WEB_ROOT / "widget.css", "text/css; charset=utf-8"),
    "/widget.js": (WEB_ROOT / "widget.js", "application/javascript; charset=utf-8"),
    "/vendor/socket.io.min.js": (SOCKET_IO_DIST / "socket.io.min.js", "application/javascript; charset=utf-8"),
}


def config_script(rasa_url: str, clinic_name: str, clinic_phone: str) -> bytes:
    """The widget's settings as a script (JSON-encoded, so no value can break out of it)."""
    settings = {"serverUrl": rasa_url, "clinicName": clinic_name, "clinicPhone": clinic_phone}
    return f"window.CLINIC_CHAT_CONFIG = {json.dumps(settings)};\n".encode()


def content_security_policy(rasa_url: str) -> str:
    """This origin and the Rasa server (HTTP polling and WebSocket), nothing else."""
    rasa_ws = "ws" + rasa_url[len("http"):] if rasa_url.startswith("http") else rasa_url
    return (
        f"default-src 'self'; connect-src 'self' {rasa_url} {rasa_ws}; "
        "img-src 'self' data:; style-src 'self'; script-src 'self'; font-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    )


class WebHandler(BaseHTTPRequestHandler):
    rasa_url = "http://localhost:5005"
    clinic = {"name": "", "phone": ""}
    server_version = "VeinClinicWeb"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self.respond(head_only=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self.respond(head_only=True)

    def respond(self, head_only: bool) -> None:
        path = urlsplit(self.path).path
        if path == "/config.js":
            body = config_script(self.rasa_url, self.clinic["name"], self.clinic["phone"])
            self.send_body(HTTPStatus.OK, body, "application/javascript; charset=utf-8", head_only)
            return
        body = self.static_file(path)
        if body is None:
            self.send_body(HTTPStatus.NOT_FOUND, b"Not found\n", "text/plain; charset=utf-8", head_only)
            return
        self.send_body(HTTPStatus.OK, body, STATIC[path][1], head_only)

    @staticmethod
    def static_file(path: str) -> Optional[bytes]:
        entry = STATIC.get(path)
        if entry is None or not entry[0].is_file():
            return None
        return entry[0].read_bytes()

    def send_body(self, status: HTTPStatus, body: bytes, content_type: str, head_only: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        # Small files that change with each release: always revalidate.
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if not head_only:
            self.wfile.write(body)

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", content_security_policy(self.rasa_url))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # keep request lines out of INFO logs
        pass


def main() -> None:
    from clinic.settings import clinic_details, web_host

    parser = argparse.ArgumentParser(description="Serve the web chat page.")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default=web_host())
    parser.add_argument("--rasa-url", default="http://localhost:5005", help="the Rasa server as browsers reach it")
    args = parser.parse_args()
    if not STATIC["/vendor/socket.io.min.js"][0].is_file():
        print("web/node_modules is missing: run ops/setup_widget.sh (make setup does).", flush=True)
    details = clinic_details()
    WebHandler.rasa_url = args.rasa_url.rstrip("/")
    WebHandler.clinic = {"name": details.name, "phone": details.phone}
    ThreadingHTTPServer((args.host, args.port), WebHandler).serve_forever()


if __name__ == "__main__":
    main()
