"""The default store: a file in $TTQ_HOME or the user data folder; $TTQ_STORE_URL overrides."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from ttquant.store.location import data_home, default_store_url


def test_ttq_home_holds_the_default_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTQ_HOME", str(tmp_path))
    assert data_home() == tmp_path
    assert default_store_url() == f"sqlite:///{tmp_path / 'records.sqlite'}"


def test_without_ttq_home_the_user_data_folder_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TTQ_HOME")
    assert data_home() == Path(platformdirs.user_data_dir("ttquant"))


def test_store_url_variable_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTQ_STORE_URL", "postgresql+psycopg://u@h:5432/db")
    assert default_store_url() == "postgresql+psycopg://u@h:5432/db"
