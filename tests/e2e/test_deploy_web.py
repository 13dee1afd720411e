"""deploy/web.conf.template: the chat page as static files behind nginx, as the `web`
service of deploy/docker-compose.yml runs it. The template is filled in as the official
nginx image does (only ${VARIABLES} set in the environment) and run by Debian's nginx."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from typing import Dict, Iterator

import pytest
import requests

from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.e2e
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def envsubst(template: str, values: Dict[str, str]) -> str:
    """What the image's envsubst does with the variables it is given: nginx's own stay."""
    return re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not os.access(NGINX, os.X_OK):
        pytest.fail("Debian's nginx is missing: run `make setup-test`")
    prefix = tmp_path_factory.mktemp("nginx")
    port = free_port()
    server = envsubst((ROOT / "deploy" / "web.conf.template").read_text(), {
        "WEB_LISTEN": f"127.0.0.1:{port}", "WEB_ROOT": str(ROOT / "web"),
        "PUBLIC_RASA_URL": "https://chat.clinic.example", "PUBLIC_RASA_WS_URL": "wss://chat.clinic.example",
        "CLINIC_NAME": "Example Vein Clinic", "CLINIC_PHONE": "+1 555 0100",
    })
    (prefix / "web.conf").write_text(server)
    (prefix / "nginx.conf").write_text(
        f"pid {prefix}/nginx.pid; error_log {prefix}/error.log warn; daemon off;\n"
        "events { worker_connections 64; }\n"
        f"http {{ include /etc/nginx/mime.types; client_body_temp_path {prefix}; proxy_temp_path {prefix};\n"
        f"fastcgi_temp_path {prefix}; uwsgi_temp_path {prefix}; scgi_temp_path {prefix};\n"
        f"include {prefix}/web.conf; }}\n")
    process = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(50):
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stderr.read().decode()
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_the_page_and_the_widget_are_served_with_the_same_headers_as_make_run(web: str) -> None:
    page = requests.get(f"{web}/", timeout=5)
    assert page.status_code == 200 and "widget.js" in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "connect-src 'self' https://chat.clinic.example wss://chat.clinic.example" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    for path in ("/widget.js", "/widget.css", "/site.css", "/favicon.svg", "/vendor/socket.io.min.js"):
        assert requests.get(f"{web}{path}", timeout=5).status_code == 200, path


def test_the_widget_config_is_valid_json_with_the_clinic_details(web: str) -> None:
    script = requests.get(f"{web}/config.js", timeout=5)
    assert script.headers["Content-Type"].startswith("application/javascript")
    settings = json.loads(script.text.split("=", 1)[1].strip().rstrip(";"))
    assert settings == {"serverUrl": "https://chat.clinic.example", "clinicName": "Example Vein Clinic",
                        "clinicPhone": "+1 555 0100"}


@pytest.mark.parametrize("path", ["/package.json", "/node_modules/socket.io-client/package.json",
                                  "/package-lock.json", "/../README.md"])
def test_nothing_outside_the_allow_list_is_served(web: str, path: str) -> None:
    assert requests.get(f"{web}{path}", timeout=5).status_code == 404
