"""The dashboard's files: served with their types and a strict CSP, nothing outside the app
folder, and every file the page loads ships in the package (no CDN)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ttquant.api.app import create_app
from ttquant.api.routers.web import WEB_ROOT
from ttquant.api.settings import ApiSettings

IMPORTS = re.compile(r"""(?:import\s[^'"]*?from\s*|import\(\s*)["'](\.{1,2}/[^"']+)["']""")
LINKS = re.compile(r"""(?:src|href)="([^"#:]+)\"""")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    home = tmp_path_factory.mktemp("web")
    settings = ApiSettings(store_url=f"sqlite:///{home / 's.sqlite'}", work_dir=home / "jobs")
    return TestClient(create_app(settings))


def test_the_app_is_served_with_a_strict_policy(client: TestClient) -> None:
    root = client.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/ui/"
    page = client.get("/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe" not in policy
    script = client.get("/ui/js/main.js")
    assert script.headers["content-type"].startswith("text/javascript")


@pytest.mark.parametrize(
    "path", ["../app.py", "%2e%2e/app.py", "js/../../app.py", "nothing.js", "js", "../web.py"]
)
def test_nothing_outside_the_app_folder_is_served(client: TestClient, path: str) -> None:
    answer = client.get(f"/ui/{path}")
    assert answer.status_code == 404, path


def _references(file: Path) -> list[Path]:
    text = file.read_text()
    found = IMPORTS.findall(text) if file.suffix == ".js" else LINKS.findall(text)
    return [(file.parent / ref).resolve() for ref in found]


def test_every_file_the_page_loads_is_in_the_package() -> None:
    seen: set[Path] = set()
    todo = [WEB_ROOT / "index.html"]
    while todo:
        file = todo.pop()
        if file in seen:
            continue
        seen.add(file)
        for ref in _references(file):
            assert ref.is_file() and ref.is_relative_to(WEB_ROOT), f"{file.name} loads {ref}"
            todo.append(ref)
    names = {p.relative_to(WEB_ROOT).as_posix() for p in seen}
    assert {"index.html", "app.css", "js/main.js", "js/charts.js", "js/live.js"} <= names
    shipped = {p.relative_to(WEB_ROOT).as_posix() for p in WEB_ROOT.rglob("*") if p.is_file()}
    assert shipped == names  # and nothing shipped is unused
