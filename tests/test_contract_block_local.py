"""``LocalStorage`` and ``BlockStorageAdapter`` (behaviour §3.3, §3.4): names, pull steps, and pulls
through a block, sync or async, that keep the user's edits."""

from __future__ import annotations

import asyncio

import pytest

from ipy_storage import (
    BlockStorageAdapter,
    LocalStorage,
    PullResult,
    from_pull_step,
)
from ipy_storage.storage.errors import (
    SourceNotFoundError,
    StoragePullError,
)
from tests.contract import AsyncBlock, FakeBlock, MyS3Bucket


# -- LocalStorage (§3.4) -------------------------------------------------------------------
def test_local_storage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "code").mkdir()
    storage = LocalStorage("code")
    assert storage.destination == tmp_path / "code"
    assert storage.pull_interval is None
    storage.set_base_path("/elsewhere")
    assert storage.destination == tmp_path / "code"
    result = storage.pull()
    assert (
        isinstance(result, PullResult)
        and not result.changed
        and result.destination == tmp_path / "code"
    )
    assert asyncio.run(storage.pull_code()).changed is False
    step = storage.to_pull_step()
    assert step == {
        "prefect.deployments.steps.set_working_directory": {"directory": str(tmp_path / "code")}
    }
    assert from_pull_step(step) == storage


def test_local_storage_missing_path_is_a_clear_pull_error(tmp_path):
    with pytest.raises(SourceNotFoundError, match="does not exist: check the path exists"):
        LocalStorage(tmp_path / "missing").pull()


# -- BlockStorageAdapter (§3.3) ---------------------------------------------------------------
def test_block_without_get_directory_is_refused():
    with pytest.raises(ValueError, match="Provided block must have a `get_directory` method."):
        BlockStorageAdapter(object())


@pytest.mark.parametrize(
    ("block", "kwargs", "name"),
    [
        (FakeBlock(document_name="prod", slug="s3-bucket"), {}, "s3-bucket-prod"),
        (MyS3Bucket(document_name="prod"), {}, "my-s3-bucket-prod"),
        (MyS3Bucket(), {"name": "dev"}, "my-s3-bucket-dev"),
    ],
)
def test_block_names(block, kwargs, name):
    assert BlockStorageAdapter(block, **kwargs).name == name


def test_two_adapters_of_one_block_are_one_storage():
    """Prefect's Runner de-duplicates storages with ``==``: no random name suffix may split them."""
    block = FakeBlock()
    first, second = BlockStorageAdapter(block), BlockStorageAdapter(block, pull_interval=5)
    assert first == second and first.destination == second.destination
    assert first.name == "fake-block"
    assert BlockStorageAdapter(FakeBlock()) != first
    saved = FakeBlock(document_name="prod", slug="s3-bucket")
    assert BlockStorageAdapter(saved).name == BlockStorageAdapter(saved).name == "s3-bucket-prod"


def test_pull_with_block_step_gives_back_the_block_this_process_used():
    block = FakeBlock(document_name="round-trip", slug="s3-bucket")
    storage = BlockStorageAdapter(block)
    again = from_pull_step(storage.to_pull_step())
    assert again == storage and again.block is block


def test_block_pull_step_forms():
    named = BlockStorageAdapter(FakeBlock(document_name="prod", slug="s3-bucket"))
    assert named.to_pull_step() == {
        "prefect.deployments.steps.pull_with_block": {
            "block_type_slug": "s3-bucket",
            "block_document_name": "prod",
        }
    }
    with pytest.raises(ValueError, match="needs a name|no name"):
        BlockStorageAdapter(FakeBlock()).to_pull_step()

    class OwnStep(FakeBlock):
        def get_pull_step(self):
            return {"custom.step": {"x": 1}}

    assert BlockStorageAdapter(OwnStep()).to_pull_step() == {"custom.step": {"x": 1}}


@pytest.mark.parametrize("block_class", [FakeBlock, AsyncBlock])
def test_block_pull_sync_and_async(block_class, tmp_path):
    block = block_class(files={"a.py": "A\n", "pkg/b.py": "B\n"}, document_name="docs")
    storage = BlockStorageAdapter(block)
    storage.set_base_path(tmp_path)
    result = storage.pull()
    assert sorted(result.added) == ["a.py", "pkg/b.py"]
    assert (storage.destination / "pkg" / "b.py").read_text() == "B\n"
    assert not any(
        p.name.startswith(f".{storage.destination.name}.staging") for p in tmp_path.iterdir()
    )
    block.files["a.py"] = "A2\n"
    result = asyncio.run(storage.pull_code())
    assert result.modified == ["a.py"]


def test_block_pull_keeps_user_edits(tmp_path):
    block = FakeBlock(files={"a.py": "A\n", "b.py": "B\n"}, document_name="d")
    storage = BlockStorageAdapter(block)
    storage.set_base_path(tmp_path)
    storage.pull()
    (storage.destination / "a.py").write_text("mine\n")
    (storage.destination / "notes.txt").write_text("user file\n")
    block.files = {"a.py": "A2\n", "b.py": "B2\n"}
    result = storage.pull()
    assert (storage.destination / "a.py").read_text() == "mine\n"
    assert result.kept_local == ["a.py"] and result.modified == ["b.py"]
    assert (storage.destination / "notes.txt").read_text() == "user file\n"


def test_block_failure_is_a_one_line_pull_error(tmp_path):
    class Broken(FakeBlock):
        def get_directory(self, from_path=None, local_path=None):
            raise OSError("bucket gone\nsecond line")

    storage = BlockStorageAdapter(Broken(document_name="x"))
    storage.set_base_path(tmp_path)
    with pytest.raises(StoragePullError, match="failed to provide its files: bucket gone$"):
        storage.pull()
