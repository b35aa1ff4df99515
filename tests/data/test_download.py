"""Downloads against a real HTTP server on 127.0.0.1 serving the real files; never the internet."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from autocnn.data import OFFICIAL_FILES, fetch, files, load
from autocnn.errors import DataError

NAMES = ("kmnist-test-imgs.npz", "kmnist-test-labels.npz")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Truncating(_Quiet):
    """Promises the whole file but sends only half of it, then hangs up."""

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        raw = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw[: len(raw) // 2])
        self.close_connection = True


class _Corrupting(_Quiet):
    """Sends a complete response of the right length with some bytes flipped."""

    def do_GET(self):
        raw = bytearray(Path(self.translate_path(self.path)).read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        self.send_response(200)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(bytes(raw))


def serve(root: Path, handler):
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def mirror(kmnist_dir, monkeypatch):
    """Start a server of the given kind over ../shared/data (which has kmnist/<file>)."""
    servers = []

    def start(handler=_Quiet):
        server = serve(kmnist_dir.parent, handler)
        servers.append(server)
        monkeypatch.setenv(files.MIRROR_ENV, f"http://127.0.0.1:{server.server_address[1]}/")
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def cache_files():
    root = files.cache_dir()
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_download_then_load(mirror, tmp_path):
    mirror()
    (tmp_path / "empty").mkdir()  # a data folder without the files: they are downloaded
    data = load("kmnist10k", "train", data_dir=tmp_path / "empty")
    assert len(data) == 8000
    for name in NAMES:
        path = files.cache_dir() / "kmnist" / name
        assert files.md5_file(path) == OFFICIAL_FILES[name].md5
    assert [n for n in cache_files() if n != "verified.json"] == sorted(NAMES)


def test_fetch_with_base_url_argument(kmnist_dir, monkeypatch):
    server = serve(kmnist_dir.parent, _Quiet)
    try:
        monkeypatch.delenv(files.MIRROR_ENV)
        paths = fetch("kmnist10k", base_url_override=f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert [p.name for p in paths] == list(NAMES)
    assert all(p.parent == files.cache_dir() / "kmnist" for p in paths)


@pytest.mark.parametrize("handler", [_Truncating, _Corrupting])
def test_bad_download_leaves_nothing(mirror, handler):
    mirror(handler)
    with pytest.raises(DataError) as err:
        fetch("kmnist10k")
    assert "kmnist-test-imgs.npz" in str(err.value)
    assert [n for n in cache_files() if n != "verified.json"] == []


def test_missing_on_server_names_the_url(mirror):
    mirror()
    with pytest.raises(DataError) as err:
        fetch("k49", parts=("test",))
    assert "/k49/k49-test-imgs.npz" in str(err.value) and "404" in str(err.value)
    assert cache_files() == []


def test_offline_says_which_url_and_how_to_work_around():
    # The autouse fixture points the mirror at a closed local port.
    with pytest.raises(DataError) as err:
        load("kmnist10k")
    msg = str(err.value)
    assert "http://127.0.0.1:9/kmnist/kmnist-test-imgs.npz" in msg
    assert "--data-dir" in msg
    assert cache_files() == []
