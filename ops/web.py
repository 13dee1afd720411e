"""Serve the demo clinic page with the chat widget (web/), self-hosted.

`/config.js` tells the widget where the Rasa server is, so the same files work
behind any address. Security headers keep the page from loading anything
that is not on this origin or the Rasa server.
"""
from __future__ import annotations

import argparse
import json
import os
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"


class WebHandler(SimpleHTTPRequestHandler):
    rasa_url = "http://localhost:5005"
    clinic = {"name": "", "phone": ""}

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        if self.path.split("?")[0] == "/config.js":
            body = "window.CLINIC_CHAT_CONFIG = " + json.dumps(
                {"serverUrl": self.rasa_url, "clinicName": self.clinic["name"], "clinicPhone": self.clinic["phone"]}
            ) + ";\n"
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/javascript; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)
            return
        super().do_GET()

    def end_headers(self) -> None:
        rasa_ws = self.rasa_url.replace("http", "ws", 1)
        self.send_header(
            "Content-Security-Policy",
            f"default-src 'self'; connect-src 'self' {self.rasa_url} {rasa_ws}; "
            "img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'",
        )
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # keep request lines out of INFO logs
        pass


def main() -> None:
    from actions.clinic import clinic_details

    parser = argparse.ArgumentParser(description="Serve the web chat page.")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default=os.environ.get("WEB_HOST", "127.0.0.1"))
    parser.add_argument("--rasa-url", default="http://localhost:5005")
    args = parser.parse_args()
    details = clinic_details()
    WebHandler.rasa_url = args.rasa_url.rstrip("/")
    WebHandler.clinic = {"name": details.name, "phone": details.phone}
    server = ThreadingHTTPServer((args.host, args.port), partial(WebHandler, directory=str(WEB_ROOT)))
    server.serve_forever()


if __name__ == "__main__":
    main()
