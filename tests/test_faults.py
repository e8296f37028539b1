"""Faults and crashes lose nothing: servers that drip, reset or never end; worker
processes SIGKILLed during fetch and patch on a LocalCluster; the whole build
SIGKILLed at 5 random points and resumed; the output disk filling up.

Every build here reads the same served photos (plus two hostile files) through
the same pipeline, so each must be byte-identical to one reference build."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

import pyarrow.parquet as pq
import pytest
from conftest import serve_folder
from hostile_corpus import case
from test_build_e2e import _irdata as irdata_cli
from test_build_e2e import _outputs as deterministic_outputs
from test_build_e2e import _photos as write_photos

from irdata import config as irconfig
from irdata.build.lock import LOCK
from irdata.build.runner import run_build
from irdata.stages import ORDER
from irdata.storage import TMP_MARK

PHOTOS = 12
PER_PARTITION = 2  # 7 partitions: 12 photos and 2 hostile files
FETCH_DELAY = 0.3  # seconds per request: fetch tasks last long enough to be killed
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Photos (1536x1024: 6 patches each) and two hostile files on a slow server."""
    root = tmp_path_factory.mktemp("site")
    folder = root / "served"
    folder.mkdir()
    names = write_photos(folder, PHOTOS, size=(1536, 1024))
    for hostile in ("png_bad_crc", "truncated_jpeg"):
        names.append(case(hostile).filename)
        (folder / names[-1]).write_bytes(case(hostile).data)
    httpd, base, _ = serve_folder(folder, FETCH_DELAY)
    (root / "web.csv").write_text("url\n" + "".join(f"{base}/{n}\n" for n in names))
    pipeline = root / "web.yaml"
    pipeline.write_text(f"seed: 0\nimages_per_partition: {PER_PARTITION}\n"
                        "sources:\n  - name: web\n    urls: web.csv\n"
                        "fetch:\n  allow_private_networks: true\n  threads: 2\n")
    reference = irdata_cli("build", str(pipeline), "--out", "reference", "--workers", "2",
                           cwd=root)
    assert reference.returncode == 0, reference.stderr
    yield root, pipeline, deterministic_outputs(root / "reference")
    httpd.shutdown()
    httpd.server_close()


def leftovers(out) -> list[str]:
    return [str(p) for p in out.rglob("*") if TMP_MARK in p.name or p.name == LOCK]


def finished_files(out) -> int:
    if not out.exists():
        return 0
    return sum(1 for p in out.rglob("*") if p.is_file() and TMP_MARK not in p.name
               and p.name != LOCK)


def assert_every_partition_once(out, plan_items: int) -> None:
    """Every planned item in exactly one raw row; every patch key once."""
    items = pq.read_table(out / "plan" / "items.parquet").to_pylist()
    images = pq.read_table(out / "manifest" / "images.parquet").to_pylist()
    assert len(items) == plan_items == len(images)
    assert sorted(r["locator"] for r in images) == sorted(r["locator"] for r in items)
    assert len({r["image_id"] for r in images}) == len(images)
    for row in images:  # each item in the partition the plan put it in
        assert row["partition"] == next(i["partition"] for i in items
                                        if i["locator"] == row["locator"])
    keys = pq.read_table(out / "manifest" / "patches.parquet", columns=["key"])["key"]
    assert len(keys) == len(set(keys.to_pylist())) > 0


# -- servers that drip, reset and never end, on a real LocalCluster ---------------------

@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of two worker processes (nannies restart killed workers)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.CRITICAL) as local:
        with Client(local) as client:
            yield local.scheduler_address, client


def _fetch_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("irdata-fetch")]


def test_hostile_servers_cost_bounded_time_and_leave_no_stuck_worker(tmp_path, fault_server,
                                                                     cluster):
    address, client = cluster
    routes = {"drip-every/1/a.jpg": "timeout", "reset/b.jpg": "connection_error",
              "reset-body/c.jpg": "truncated_body", "endless/d.jpg": "too_large",
              "stall/e.jpg": "timeout", "ok/f.jpg": "", "ok/g.jpg": ""}
    urls = {fault_server.url(route): reason for route, reason in routes.items()}
    (tmp_path / "urls.csv").write_text("url\n" + "\n".join(urls) + "\n")
    raw = {"images_per_partition": 4, "inspect": {"min_side": 64},
           "fetch": {"allow_private_networks": True, "threads": 4, "retries": 1,
                     "backoff": 0.05, "read_timeout": 2.0, "total_timeout": 4.0,
                     "max_bytes": "2MiB"},
           "sources": [{"name": "hostile", "urls": "urls.csv"}]}
    config = irconfig.validate(raw, str(tmp_path / "p.yaml"), str(tmp_path))
    started = time.monotonic()
    run_build(config, str(tmp_path / "out"), ["fetch"], scheduler=address, quiet=True)
    elapsed = time.monotonic() - started

    rows = {r["locator"]: r for i in range(2)
            for r in pq.read_table(tmp_path / "out" / "raw" / f"0000{i}.parquet").to_pylist()}
    for url, reason in urls.items():
        assert rows[url]["reason"] == reason, (url, rows[url]["detail"])
        assert rows[url]["status"] == ("ok" if not reason else rows[url]["status"])
    assert elapsed < 15  # two partitions, each bounded by total_timeout (4 s) + retries
    for route in ("drip-every/1/a.jpg", "endless/d.jpg"):
        assert fault_server.wait_stream_end(route)["ended"] == "disconnect", route
    assert all(not names for names in client.run(_fetch_threads).values())
    assert client.submit(sum, [1, 2], pure=False).result(timeout=10) == 3  # workers answer


# -- worker processes killed during fetch and during patch -----------------------------------

def _kill_worker_running(client, prefix: str, deadline: float) -> str:
    """SIGKILL the worker process of the first task whose key starts with `prefix`."""
    while time.monotonic() < deadline:
        for worker, keys in client.processing().items():
            if any(str(key).startswith(prefix) for key in keys):
                pid = client.run(os.getpid, workers=[worker])[worker]
                os.kill(pid, signal.SIGKILL)
                return worker
        time.sleep(0.02)
    raise AssertionError(f"no {prefix} task seen running")


def test_workers_killed_during_fetch_and_patch(site, cluster, tmp_path):
    root, pipeline, reference = site
    address, client = cluster
    config = irconfig.load(str(pipeline))
    out = tmp_path / "out"
    killed, failures = [], []

    def killer():
        try:
            for prefix in ("fetch-", "patch-"):
                killed.append((prefix, _kill_worker_running(client, prefix,
                                                            time.monotonic() + 90)))
        except Exception as exc:  # reported by the main thread
            failures.append(exc)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    run_build(config, str(out), list(ORDER), scheduler=address, quiet=True)
    thread.join(timeout=30)

    assert not failures and [p for p, _ in killed] == ["fetch-", "patch-"]
    assert deterministic_outputs(out) == reference
    assert_every_partition_once(out, PHOTOS + 2)
    assert leftovers(out) == []  # the killed workers' temp files were cleaned up


# -- the whole build killed at five random points, then resumed ---------------------------------

KILLS = 5


def test_build_killed_at_five_random_points_resumes_byte_identical(site, tmp_path):
    root, pipeline, reference = site
    total = finished_files(root / "reference")
    rng = random.Random(20260808)
    # Kill points by output progress, before the manifest stage's last files.
    targets = sorted(rng.sample(range(1, total - 10), KILLS))
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "irdata", "build", str(pipeline), "--out", str(out),
               "--workers", "2"]
    survived = []
    for target in targets:
        target = max(target, finished_files(out) + 1)  # each kill after new progress
        proc = subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while finished_files(out) < target:
            assert proc.poll() is None, f"build finished before kill point {target}/{total}"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.2))  # somewhere in the middle of the next write
        assert proc.poll() is None, f"build finished before kill point {target}/{total}"
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and every cluster process
        proc.wait(timeout=30)
        survived.append((target, finished_files(out)))

    resumed = irdata_cli("build", str(pipeline), "--out", str(out), "--workers", "2", cwd=root)

    assert resumed.returncode == 0, resumed.stderr
    assert len(survived) == KILLS, survived
    # Kills land while the build runs; a late one may find every file written
    # and the cluster shutting down, which is a kill point too.
    assert sum(n < total for _, n in survived) >= KILLS - 1, survived
    assert deterministic_outputs(out) == reference
    assert_every_partition_once(out, PHOTOS + 2)
    assert leftovers(out) == []


# -- the output disk fills up ---------------------------------------------------------------------

def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_done_means_complete(out) -> int:
    """Every partition marked done has all its outputs, whole; returns how many."""
    done = 0
    for folder in ("raw", "patches"):
        for marker in sorted((out / folder).glob("*.done")) if (out / folder).exists() else []:
            record = json.loads(marker.read_text())
            stem = marker.name[: -len(".done")]
            assert _sha256(out / record["shard"]["path"]) == record["shard"]["sha256"]
            pq.read_table(out / folder / f"{stem}.parquet")
            json.loads((out / folder / f"{stem}.stats.json").read_text())
            done += 1
    return done


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of `size` bytes mounted for the test (root only; skipped elsewhere)."""
    mounted = []

    def mount(size: int):
        disk = tmp_path / "disk"
        disk.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                                 str(disk)], capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(disk)
        return disk

    yield mount
    for disk in mounted:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_disk_full_is_a_clear_error_and_a_rerun_completes(site, small_disk):
    root, pipeline, reference = site
    size = sum(len(data) for data in reference.values())
    disk = small_disk(size // 2)  # the build stops half-way
    out = disk / "out"

    full = irdata_cli("build", str(pipeline), "--out", str(out), "--workers", "2", cwd=root)

    assert full.returncode == 1, full.stderr
    assert "No space left on device (writing " in full.stderr  # names the file
    assert "Traceback" not in full.stderr
    assert "rerun the same command" in full.stderr
    done_before = assert_done_means_complete(out)
    assert done_before < 2 * ((PHOTOS + 2 + PER_PARTITION - 1) // PER_PARTITION)
    assert [p for p in leftovers(out) if TMP_MARK in p] == []

    subprocess.run(["mount", "-o", f"remount,size={4 * size}", str(disk)], check=True)
    rerun = irdata_cli("build", str(pipeline), "--out", str(out), "--workers", "2", cwd=root)

    assert rerun.returncode == 0, rerun.stderr
    assert deterministic_outputs(out) == reference
    assert leftovers(out) == []
    shutil.rmtree(out)


def test_disk_full_before_the_first_partition_is_one_line(site, small_disk):
    root, pipeline, _ = site
    disk = small_disk(8 * 1024)  # not even the plan fits
    full = irdata_cli("build", str(pipeline), "--out", str(disk / "out"), "--workers", "1",
                      cwd=root)
    assert full.returncode == 1
    assert full.stderr.strip().splitlines()[-1] == (
        f"irdata: build stopped: [Errno 28] No space left on device (writing "
        f"{disk / 'out' / 'plan' / 'items.parquet'}); fix it and rerun the same command "
        "to resume")
    assert leftovers(disk / "out") == []  # no temp file, and the lock was released
