"""End-to-end builds through the real CLI: the minimal pipeline as written,
resume after SIGKILL, and a build on an external Dask scheduler + 2 workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import pyarrow.parquet as pq
import pytest
from conftest import stop_processes

from irdata.demo.synth import encode, near_duplicate, procedural_image

MINIMAL_YAML = """\
output: out/million-ird     # or --out on the command line
seed: 0
sources:
  - name: photos
    urls: manifests/photos.csv   # CSV, TSV, Parquet or JSONL with a `url` column;
                                 # optional `license`, `source`; other columns kept
  - name: local
    dir: pictures/               # recursive, image extensions
  - name: div2k
    archive: {archive_url}   # or a local .zip/.tar/.tar.gz
fetch:
  allow_private_networks: true   # default false
"""




def _photos(folder, count, start=0, size=(640, 520)):
    names = []
    for seed in range(start, start + count):
        name = f"p{seed:03d}.jpg"
        (folder / name).write_bytes(encode(procedural_image(seed, *size), "jpg", 90))
        names.append(name)
    return names


def _url_list(path, base, names):
    lines = ["url,license,source,caption"]
    lines += [f"{base}/{name},CC0-1.0,test,photo {name}" for name in names]
    path.write_text("\n".join(lines) + "\n")


def _irdata(*args, cwd, timeout=240, **kwargs):
    return subprocess.run([sys.executable, "-m", "irdata", *args], cwd=cwd, timeout=timeout,
                          capture_output=True, text=True, **kwargs)


def _outputs(root):
    """Every deterministic output file (not stats or run.json, which hold times)."""
    files = {}
    for folder in ("raw", "plan", "dedupe", "patches", "manifest"):
        base = os.path.join(root, folder)
        for name in sorted(os.listdir(base)) if os.path.isdir(base) else []:
            if name.endswith((".tar", ".parquet", ".done")):
                with open(os.path.join(base, name), "rb") as fh:
                    files[f"{folder}/{name}"] = fh.read()
    return files


def _pipeline(tmp_path, name, base, names, per_partition):
    _url_list(tmp_path / f"{name}.csv", base, names)
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"seed: 0\nimages_per_partition: {per_partition}\n"
                    f"sources:\n  - name: web\n    urls: {name}.csv\n"
                    f"fetch:\n  allow_private_networks: true\n  threads: 2\n")
    return path


def test_minimal_pipeline_as_written(tmp_path, served):
    folder, base, _ = served
    names = _photos(folder, 3)
    archive = folder / "DIV2K_train_HR.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for seed in (10, 11):
            zf.writestr(f"DIV2K_train_HR/{seed:04d}.png",
                        encode(procedural_image(seed, 600, 520), "png"))
        zf.writestr("DIV2K_train_HR/readme.txt", "not an image")
    (tmp_path / "manifests").mkdir()
    _url_list(tmp_path / "manifests" / "photos.csv", base, names + ["missing.jpg"])
    (tmp_path / "pictures" / "sub").mkdir(parents=True)
    (tmp_path / "pictures" / "sub" / "local.png").write_bytes(
        encode(procedural_image(20, 700, 600), "png"))
    (tmp_path / "pipeline.yaml").write_text(
        MINIMAL_YAML.format(archive_url=f"{base}/DIV2K_train_HR.zip"))

    result = _irdata("build", "pipeline.yaml", "--workers", "2", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    out = tmp_path / "out" / "million-ird"
    table = [row for part in sorted((out / "raw").glob("*.parquet"))
             for row in pq.read_table(part).to_pylist()]
    by_source = {}
    for row in table:
        by_source.setdefault(row["source_name"], []).append(row)
    assert sorted(by_source) == ["div2k", "local", "photos"]
    assert [r["status"] for r in by_source["div2k"]] == ["ok", "ok"]
    assert all(r["locator"].startswith(f"{base}/DIV2K_train_HR.zip!") for r in by_source["div2k"])
    assert by_source["local"][0]["status"] == "ok"
    assert by_source["local"][0]["width"] == 700
    statuses = sorted((r["status"], r["reason"], r["http_status"]) for r in by_source["photos"])
    assert statuses == [("failed", "http_404", 404)] + [("ok", "", 200)] * 3
    run = json.loads((out / "run.json").read_text())
    assert run["seed"] == 0 and run["ok"] is True
    assert run["versions"]["irdata"] and run["versions"]["dask"]
    assert "fetch: 1 partitions" in result.stderr  # 7 items: 10 per partition at least
    assert "failed:http_404" in result.stderr


@pytest.mark.parametrize("stage_folder, size, delay", [
    ("raw", (640, 520), 0.15),  # killed during fetch
    ("patches", (1536, 1024), 0.0),  # killed during patch
])
def test_resume_after_sigkill_is_byte_identical(tmp_path, served, stage_folder, size, delay):
    folder, base, handler = served
    names = _photos(folder, 24, size=size)
    handler.delay = delay
    pipeline = _pipeline(tmp_path, "web", base, names, per_partition=2)

    reference = _irdata("build", str(pipeline), "--out", "ref", "--workers", "2", cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr

    proc = subprocess.Popen([sys.executable, "-m", "irdata", "build", str(pipeline),
                             "--out", "resumed", "--workers", "2"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    raw = tmp_path / "resumed" / stage_folder
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = list(raw.glob("*.done")) if raw.exists() else []
        if done:  # patch partitions take ~20 ms: kill at the first one
            break
        assert proc.poll() is None, "build finished before it could be killed"
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and every cluster process
    proc.wait(timeout=30)
    killed_at = len(list(raw.glob("*.done")))
    assert 1 <= killed_at < 12

    resumed = _irdata("build", str(pipeline), "--out", "resumed", "--workers", "2", cwd=tmp_path)

    assert resumed.returncode == 0, resumed.stderr
    assert _outputs(tmp_path / "ref") == _outputs(tmp_path / "resumed")
    leftovers = [p for p in (tmp_path / "resumed").rglob("*") if ".tmp-" in p.name]
    assert leftovers == []


@pytest.fixture
def dask_cluster(tmp_path):
    """A real `dask scheduler` and two `dask worker` processes."""
    scheduler_file = tmp_path / "scheduler.json"
    env = dict(os.environ, DASK_DISTRIBUTED__WORKER__DAEMON="False")
    bindir = os.path.dirname(sys.executable)
    procs = [subprocess.Popen([os.path.join(bindir, "dask"), "scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(scheduler_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert scheduler_file.exists(), "dask scheduler did not start"
        for _ in range(2):
            procs.append(subprocess.Popen(
                [os.path.join(bindir, "dask"), "worker", "--scheduler-file", str(scheduler_file),
                 "--nthreads", "1", "--no-dashboard", "--nworkers", "1"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
        address = json.loads(scheduler_file.read_text())["address"]
        _wait_for_workers(address, 2)
        yield address, scheduler_file
    finally:
        stop_processes(procs)


def _wait_for_workers(address, count):
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(count, timeout=60)


def test_external_scheduler_matches_local_build(tmp_path, served, dask_cluster):
    folder, base, _ = served
    names = _photos(folder, 8)
    pipeline = _pipeline(tmp_path, "web", base, names, per_partition=3)

    local = _irdata("build", str(pipeline), "--out", "local", "--workers", "1", cwd=tmp_path)
    address, scheduler_file = dask_cluster
    remote = _irdata("build", str(pipeline), "--out", "remote", "--scheduler", address,
                     cwd=tmp_path)
    by_file = _irdata("build", str(pipeline), "--out", "by-file", "--scheduler",
                      str(scheduler_file), cwd=tmp_path)

    assert local.returncode == 0, local.stderr
    assert remote.returncode == 0, remote.stderr
    outputs = _outputs(tmp_path / "remote")
    assert sorted(k for k in outputs if k.endswith(".tar")) == [
        "patches/00000.tar", "patches/00001.tar", "patches/00002.tar",
        "raw/00000.tar", "raw/00001.tar", "raw/00002.tar"]
    assert outputs == _outputs(tmp_path / "local")
    assert by_file.returncode == 0, by_file.stderr
    assert _outputs(tmp_path / "by-file") == outputs


def test_unreachable_scheduler_is_one_line(tmp_path, served):
    folder, base, _ = served
    pipeline = _pipeline(tmp_path, "web", base, _photos(folder, 1), per_partition=3)
    result = _irdata("build", str(pipeline), "--out", "x", "--scheduler", "tcp://127.0.0.1:9",
                     cwd=tmp_path, timeout=90)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("irdata: error: cannot reach Dask scheduler tcp://127.0.0.1:9")
    assert "Traceback" not in result.stderr


def test_demo_over_a_users_folder(tmp_path):
    photos = tmp_path / "mine" / "trip"
    photos.mkdir(parents=True)
    _photos(photos, 3)
    (photos / "notes.txt").write_text("not a photo")

    result = _irdata("demo", "--source", str(tmp_path / "mine"), "--out", "demo-out",
                     "--workers", "1", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "fetched, usable       3" in result.stdout
    rows = pq.read_table(tmp_path / "demo-out" / "raw" / "00000.parquet").to_pylist()
    assert sorted(r["locator"].rsplit("/", 1)[1] for r in rows) == ["p000.jpg", "p001.jpg",
                                                                    "p002.jpg"]
    assert {r["status"] for r in rows} == {"ok"}


def test_demo_rejects_a_missing_source_folder(tmp_path):
    result = _irdata("demo", "--source", "nowhere", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "irdata: error: --source: not a folder: nowhere"


def test_full_build_is_identical_whatever_the_workers_and_their_shape(tmp_path, served):
    folder, base, _ = served
    names = _photos(folder, 6, size=(1100, 700))
    (folder / "copy.jpg").write_bytes(near_duplicate(procedural_image(0, 1100, 700), scale=0.8))
    pipeline = _pipeline(tmp_path, "web", base, names + ["copy.jpg"], per_partition=2)

    one = _irdata("build", str(pipeline), "--out", "one", "--workers", "1", cwd=tmp_path)
    two = _irdata("build", str(pipeline), "--out", "two", "--workers", "2", cwd=tmp_path)
    threads = _irdata("build", str(pipeline), "--out", "threads", "--workers", "2",
                      "--worker-shape", "threads", cwd=tmp_path)

    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    assert threads.returncode == 0, threads.stderr
    outputs = _outputs(tmp_path / "one")
    assert {"patches/00000.tar", "manifest/patches.parquet", "manifest/shards.parquet",
            "manifest/images.parquet", "dedupe/clusters.parquet"} <= set(outputs)
    assert outputs == _outputs(tmp_path / "two") == _outputs(tmp_path / "threads")
    images = pq.read_table(tmp_path / "one" / "manifest" / "images.parquet").to_pylist()
    copy = next(r for r in images if r["locator"].endswith("/copy.jpg"))
    original = next(r for r in images if r["locator"].endswith("/p000.jpg"))
    assert copy["dup_of"] == original["image_id"] and copy["patch_status"] == "duplicate"
    assert original["patches_total"] == 2  # 1100x700: one row of two 512 cells


def test_a_second_build_into_the_same_output_is_refused(tmp_path, served):
    import socket

    folder, base, _ = served
    pipeline = _pipeline(tmp_path, "web", base, _photos(folder, 1), per_partition=3)
    (tmp_path / "busy").mkdir()
    lock = tmp_path / "busy" / ".irdata.lock"
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))

    refused = _irdata("build", str(pipeline), "--out", "busy", cwd=tmp_path)

    assert refused.returncode == 2
    assert refused.stderr.strip().endswith(
        f"is being built by another irdata process (pid {os.getpid()}); "
        "wait for it or use another --out")
    assert not (tmp_path / "busy" / "raw").exists()

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid}))
    taken_over = _irdata("build", str(pipeline), "--out", "busy", "--workers", "1",
                         cwd=tmp_path)
    assert taken_over.returncode == 0, taken_over.stderr
    assert not lock.exists()


def test_a_40_photo_build_keeps_both_workers_busy(tmp_path):
    """The plan cuts 40 items into 4 partitions (plan.partition_size, whatever the
    cluster), and a 2-worker LocalCluster runs them on both workers."""
    from collections import Counter

    from irdata import config as config_mod
    from irdata.build.runner import run_build

    (tmp_path / "photos").mkdir()
    _photos(tmp_path / "photos", 40, size=(600, 520))
    config = config_mod.validate({"sources": [{"name": "p", "dir": str(tmp_path / "photos")}],
                                  "images_per_partition": 1000}, "t.yaml", str(tmp_path))
    results = run_build(config, str(tmp_path / "out"), ["fetch"], workers=2, quiet=True)
    ran = Counter(stats["worker"] for stats in results["fetch"]["stats"])
    assert len(results["fetch"]["stats"]) == 4 and len(ran) == 2, ran


@pytest.mark.parametrize("cluster_per_host", [None, 2])
def test_a_cluster_wide_cap_holds_across_workers(tmp_path, fault_server, cluster_per_host):
    """per_host is per worker process: 2 workers send up to 2 x 4 requests to one
    host. fetch.cluster_per_host caps the whole cluster (a Dask Semaphore per host)."""
    from irdata import config as config_mod
    from irdata.build.runner import run_build

    urls = [fault_server.url(f"slow/0.4/{n}.jpg") for n in range(8)]
    (tmp_path / "slow.csv").write_text("url\n" + "\n".join(urls) + "\n")
    config = config_mod.validate({
        "sources": [{"name": "slow", "urls": str(tmp_path / "slow.csv")}],
        "images_per_partition": 4,
        "fetch": {"allow_private_networks": True, "threads": 4, "per_host": 4,
                  "cluster_per_host": cluster_per_host}}, "t.yaml", str(tmp_path))
    results = run_build(config, str(tmp_path / "out"), ["fetch"], workers=2, quiet=True)
    assert sum(s["status"].get("ok", 0) for s in results["fetch"]["stats"]) == 8
    if cluster_per_host:
        assert fault_server.max_in_flight == 2
    else:
        assert fault_server.max_in_flight > 4  # both workers at once
