"""The notebook layer in a real ipykernel, driven cell by cell through nbclient (behaviour §6.2, §6.3,
§6.6): timers run on a thread while cells run, survive a vanished source, and end on unload."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.kernel

STATUS = "st = ipy_storage.workspace().status()['{name}']\n"


def test_load_add_pull_watch_recover_nest_unload(kernel, make_repo, tmp_path):
    repo = make_repo({"a.txt": "1\n"})
    session = kernel()
    loaded = session.run("%load_ext ipy_storage\nimport ipy_storage, threading")
    assert loaded.error is None, loaded.text

    added = session.run(f"%storage add {repo.url} --name live --interval 0.5")
    assert "GitRepository(name='live'" in added.text
    assert "ipy-storage-card" in added.data("text/html")[0]

    pulled = session.run("%storage pull live")
    assert "1 added" in pulled.text and "ipy-storage-result" in pulled.data("text/html")[0]

    session.run("%storage watch live")
    repo.commit({"b.txt": "2\n"})
    watched = session.wait_for(
        "print((ipy_storage.workspace()['live'].destination / 'b.txt').exists())", "True"
    )
    assert "True" in watched.text
    listing = session.run("%storage list")
    assert "watching every 0.5s" in listing.text and "<table" in listing.data("text/html")[0]

    hidden = tmp_path / "hidden.git"
    repo.bare.rename(hidden)
    failing = session.wait_for(
        STATUS.format(name="live")
        + "print('failing' if st['failures'] >= 2 and st['watching'] else st)",
        "failing",
    )
    assert "failing" in failing.text
    hidden.rename(repo.bare)
    repo.commit({"c.txt": "3\n"})
    recovered = session.wait_for(
        STATUS.format(name="live")
        + "print('recovered' if st['failures'] == 0 and (ipy_storage.workspace()['live'].destination / 'c.txt').exists() else st)",
        "recovered",
    )
    assert "recovered" in recovered.text

    nested = "import asyncio\ntry:\n    print(asyncio.run(asyncio.sleep(0, 'nested ok')))\nexcept RuntimeError:\n    print('refused')"
    assert "refused" in session.run(nested).text  # nothing patched by %load_ext
    session.run("%storage nest")
    assert "nested ok" in session.run(nested).text

    unloaded = session.run(
        "%unload_ext ipy_storage\nprint(sorted(t.name for t in threading.enumerate() if t.name.startswith('ipy-storage')))"
    )
    assert unloaded.text.strip() == "[]"


def test_cells_stay_responsive_while_a_timer_pulls_from_a_slow_server(
    kernel, git_http_server, monkeypatch
):
    repo = git_http_server.create_repo({f"f{i}.txt": "x\n" for i in range(20)})
    progress_repo = git_http_server.create_repo({f"g{i}.txt": "y\n" for i in range(20)})
    monkeypatch.setenv("KERNEL_GIT_TOKEN", git_http_server.token)  # the kernel inherits it
    session = kernel()
    session.run("%load_ext ipy_storage\nimport ipy_storage, time")
    session.run(f"%storage add {repo.url} --name slow --token-env KERNEL_GIT_TOKEN --interval 30")
    session.run(
        f"%storage add {progress_repo.url} --name shown --token-env KERNEL_GIT_TOKEN --once"
    )

    git_http_server.set_delay(0.4)
    pulled = session.run("%storage pull shown")
    bars = [html for html in pulled.data("text/html") if "<progress" in html]
    assert bars and "(finished)" in bars[-1]  # a progress bar, left completed

    git_http_server.set_delay(1.5)
    session.run("%storage watch slow")
    probe = session.run(
        "started = time.perf_counter()\n"
        + STATUS.format(name="slow")
        + "print('pulling' if st['last_pull'] is None else 'done', round(time.perf_counter() - started, 3))"
    )
    assert probe.text.startswith(
        "pulling"
    )  # the timer's first pull is still waiting for the server
    assert probe.seconds < 1
    git_http_server.set_delay(None)
    finished = session.wait_for(
        STATUS.format(name="slow") + "print(st['last_result'])", "20 added", timeout=30
    )
    assert "20 added" in finished.text
