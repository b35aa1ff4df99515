"""Every data test gets an empty cache folder, no user data folder, and no route to the internet."""

from __future__ import annotations

import pytest

from autocnn.data import files, loading


@pytest.fixture(autouse=True)
def isolated_data_env(tmp_path, monkeypatch):
    monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(files.DATA_DIR_ENV, raising=False)
    # A closed local port: a test that forgot its own server fails fast instead of going online.
    monkeypatch.setenv(files.MIRROR_ENV, "http://127.0.0.1:9")
    loading.clear_cache()
    files._md5_memo.clear()
    yield
    loading.clear_cache()
    files._md5_memo.clear()
