"""The one rule that says whether a playbook target is a file or a catalog path."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from noetl.dsl.locate import Located, catalog_file, in_catalog, load_located, locate
from noetl.engine.definition import PlaybookDef
from noetl.errors import NotFoundError
from noetl.store.sqlite import SqliteCatalogStore

BODY = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: c}\nworkflow:\n  - step: start\n"


async def in_a_catalog(tmp_path: Path, target: Located) -> PlaybookDef:
    """`target` loaded with a real SQLite catalog holding version 1 of `team/child`."""
    catalog = SqliteCatalogStore.open(tmp_path / "noetl.db")
    try:
        await catalog.register("team/child", "c", BODY)
        playbook, _ = await load_located(target, catalog)
        return playbook
    finally:
        await catalog.close()


def test_an_existing_file_is_that_file(tmp_path: Path):
    (tmp_path / "child.yaml").write_text(BODY)
    located = locate("child.yaml", base_file=str(tmp_path / "parent.yaml"))
    assert located.file == tmp_path / "child.yaml"
    playbook, source = asyncio.run(load_located(located, None))
    assert (playbook.name, source, playbook.source_file) == ("c", BODY, str(located.file))


def test_a_version_or_a_missing_file_means_the_catalog(tmp_path: Path):
    (tmp_path / "child.yaml").write_text(BODY)
    base = str(tmp_path / "parent.yaml")
    assert locate("child.yaml", 2, base_file=base).file is None
    assert locate("team/child", base_file=base).file is None


def test_a_catalog_playbook_names_catalog_paths(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("team").mkdir()
    (Path("team") / "child.yaml").write_text(BODY)
    assert locate("child.yaml", base_file=catalog_file("team/parent", 3)).file is None


def test_catalog_lookup_names_the_file_it_looked_for(tmp_path: Path):
    playbook = asyncio.run(in_a_catalog(tmp_path, locate("team/child")))
    assert playbook.source_file == "catalog:team/child@v1"
    with pytest.raises(NotFoundError, match="team/nope: no such playbook file, and catalog has"):
        asyncio.run(in_a_catalog(tmp_path, locate("team/nope")))
    with pytest.raises(NotFoundError, match=r"^team/nope: catalog has no playbook"):
        asyncio.run(in_a_catalog(tmp_path, in_catalog("team/nope")))
    with pytest.raises(NotFoundError, match="no catalog to look it up in"):
        asyncio.run(load_located(locate("team/child"), None))


def test_a_folder_is_named_as_one(tmp_path: Path):
    (tmp_path / "team").mkdir()
    located = locate("team", base_file=str(tmp_path / "parent.yaml"))
    assert located.file is None
    with pytest.raises(NotFoundError, match="team: a folder, not a playbook file, and catalog"):
        asyncio.run(in_a_catalog(tmp_path, located))
