"""Builds, audits and training on S3: moto's standalone server on 127.0.0.1 (the
way s3fs tests itself), reached through the real CLI in subprocesses."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from conftest import stop_processes
from test_build_e2e import _irdata, _outputs, _photos, _url_list, _wait_for_workers

from irdata.storage import TMP_MARK, Output

FOLDERS = ("raw", "plan", "dedupe", "patches", "manifest")


def _objects(root: str) -> dict[str, bytes]:
    """What `_outputs` reads from a local build, read from an S3 one."""
    out = Output(root)
    files = {}
    for folder in FOLDERS:
        for path in out.glob(f"{folder}/*"):
            if path.endswith((".tar", ".parquet", ".done")):
                files[path[len(out.base) + 1:]] = out.fs.cat(path)
    return files


def _pipeline(tmp_path, base: str, names: list[str], **extra) -> str:
    _url_list(tmp_path / "web.csv", base, names)
    raw = {"seed": 0, "images_per_partition": 2, "fetch": {"allow_private_networks": True},
           "sources": [{"name": "web", "urls": "web.csv"}], **extra}
    (tmp_path / "web.yaml").write_text(yaml.safe_dump(raw))
    return str(tmp_path / "web.yaml")


def _digest(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def test_a_build_on_s3_is_the_local_build_and_is_audited_and_trained_there(
        tmp_path, served, s3_bucket, s3_endpoint):
    folder, base, _ = served
    names = _photos(folder, 6, size=(1100, 700))
    pipeline = _pipeline(tmp_path, base, names,
                         storage_options={"endpoint_url": s3_endpoint})
    local = _irdata("build", pipeline, "--out", "local", "--workers", "2", cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    root = f"{s3_bucket}/run"
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}  # the YAML's
    remote = _irdata("build", pipeline, "--out", root, "--workers", "2", cwd=tmp_path, env=env)
    assert remote.returncode == 0, remote.stderr

    objects = _objects(root)
    assert _digest(objects) == _digest(_outputs(tmp_path / "local"))
    assert sum(k.startswith("patches/") and k.endswith(".tar") for k in objects) == 3
    out = Output(root)
    run = out.read_json("run.json")
    assert run["ok"] and run["config"]["storage_options"] == {"endpoint_url": "<not recorded>"}
    assert s3_endpoint not in json.dumps(run) and s3_endpoint not in remote.stderr
    assert not [p for p in out.fs.find(out.base) if TMP_MARK in p]

    verify = _irdata("verify", root, "--workers", "1", cwd=tmp_path)
    assert verify.returncode == 0 and "irdata verify: OK: 6 shards" in verify.stdout, verify.stderr
    report = _irdata("report", root, cwd=tmp_path)
    assert report.returncode == 0 and f"wrote {root}/report.html" in report.stdout
    assert b"irdata report" in out.fs.cat(out.path("report.html"))
    key = _a_kept_key(out)
    show = _irdata("show", root, key, cwd=tmp_path)
    assert show.returncode == 0 and key in show.stdout, show.stderr

    train = tmp_path / "train.yaml"
    train.write_text(yaml.safe_dump({
        "model": {"config": "tiny"}, "data": {"workers": 0, "shuffle": 4, "epoch_steps": 3},
        "schedule": [{"steps": 3, "crop": 32, "batch": 2}], "log_every": 1, "threads": 1}))
    trained = _irdata("train", "pretrain", str(train), "--out", "run",
                      "--shards", f"{root}/patches/{{00000..00002}}.tar", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-2000:]
    steps = [json.loads(line)["step"] for line in open(tmp_path / "run" / "log.jsonl")]
    assert steps == [1, 2, 3]


def _a_kept_key(out: Output) -> str:
    import pyarrow.parquet as pq

    with out.fs.open(out.path("manifest", "patches.parquet"), "rb") as fh:
        rows = pq.read_table(fh, columns=["key", "kept"]).to_pylist()
    return next(r["key"] for r in rows if r["kept"])


def test_a_build_killed_on_s3_resumes_to_the_same_objects(tmp_path, served, s3_bucket):
    folder, base, handler = served
    names = _photos(folder, 16, size=(900, 600))
    handler.delay = 0.15
    pipeline = _pipeline(tmp_path, base, names)
    reference = _irdata("build", pipeline, "--out", "ref", "--workers", "2", cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr

    root = f"{s3_bucket}/resumed"
    proc = subprocess.Popen([sys.executable, "-m", "irdata", "build", pipeline, "--out", root,
                             "--workers", "2"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    out = Output(root)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(out.glob("raw/*.done")) < 2:
        assert proc.poll() is None, "build finished before it could be killed"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the client and every cluster process
    proc.wait(timeout=30)
    assert 2 <= len(out.glob("raw/*.done")) < 8

    handler.delay = 0.0
    resumed = _irdata("build", pipeline, "--out", root, "--workers", "2", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert _digest(_objects(root)) == _digest(_outputs(tmp_path / "ref"))
    assert not [p for p in out.fs.find(out.base) if TMP_MARK in p]
    assert out.fs.list_multipart_uploads(s3_bucket.split("://")[1]) == []


@pytest.mark.parametrize("problem", ["no bucket", "no endpoint"])
def test_an_unusable_output_is_one_line_before_any_work(tmp_path, served, s3_bucket, problem):
    folder, base, _ = served
    pipeline = _pipeline(tmp_path, base, _photos(folder, 1))
    env = dict(os.environ)
    root = f"{s3_bucket}/run"
    if problem == "no bucket":
        root = "s3://irdata-no-such-bucket/run"
    else:
        env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
    result = _irdata("build", pipeline, "--out", root, "--workers", "1", cwd=tmp_path, env=env,
                     timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    expected = {"no bucket": "no such bucket", "no endpoint": "endpoint cannot be reached"}
    assert lines[0].startswith(f"irdata: error: {root}: cannot write there: ")
    assert expected[problem] in lines[0]
    if problem == "no endpoint":  # the bucket exists (reached here through the real endpoint)
        assert Output(root).fs.find(Output(root).base) == []  # not even the probe is left


def test_sources_and_exclusion_sets_on_s3(tmp_path, served, s3_bucket, monkeypatch):
    """A folder, an archive and a URL list on S3, and an evaluation set there too."""
    import io
    import zipfile

    import pyarrow.parquet as pq

    folder, base, _ = served
    names = _photos(folder, 5, size=(900, 600))
    out = Output(s3_bucket)
    for name in names[:2]:
        out.write_bytes(f"photos/{name}", (folder / name).read_bytes())
    out.write_bytes("photos/notes.txt", b"not a photo")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("HR/a.jpg", (folder / names[2]).read_bytes())
    out.write_bytes("div2k.zip", buffer.getvalue())
    _url_list(tmp_path / "list.csv", base, names[3:])
    out.write_bytes("lists/web.csv", (tmp_path / "list.csv").read_bytes())
    out.write_bytes("evalset/copy.jpg", (folder / names[0]).read_bytes())
    raw = {"seed": 0, "images_per_partition": 2, "fetch": {"allow_private_networks": True},
           "sources": [{"name": "folder", "dir": f"{s3_bucket}/photos/"},
                       {"name": "zipped", "archive": f"{s3_bucket}/div2k.zip"},
                       {"name": "web", "urls": f"{s3_bucket}/lists/web.csv"}],
           "exclude": [{"name": "evalset", "dir": f"{s3_bucket}/evalset/"}]}
    (tmp_path / "s3.yaml").write_text(yaml.safe_dump(raw))
    built = _irdata("build", "s3.yaml", "--out", f"{s3_bucket}/run", "--workers", "2",
                    cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    with out.fs.open(out.path("run/manifest/images.parquet"), "rb") as fh:
        rows = pq.read_table(fh).to_pylist()
    found = sorted((r["source_name"], r["locator"].rsplit("/", 1)[1], r["status"], r["reason"])
                   for r in rows)
    assert found == [("folder", names[0], "dropped", "excluded"),
                     ("folder", names[1], "ok", ""),
                     ("web", names[3], "ok", ""), ("web", names[4], "ok", ""),
                     ("zipped", "a.jpg", "ok", "")]
    assert all(r["locator"].startswith(f"{s3_bucket}/") for r in rows
               if r["source_name"] != "web")

    from irdata import config as config_mod
    from irdata.exclude import compiled

    def no_copy(*_):
        raise AssertionError("an unchanged set on S3 was copied again")

    monkeypatch.setattr(compiled, "_copied", no_copy)
    again = config_mod.validate(raw, "s3.yaml", str(tmp_path))
    assert compiled.compile_sets(again, Output(f"{s3_bucket}/run")) == ["exclude/evalset.parquet"]
    out.write_bytes("evalset/other.jpg", (folder / names[1]).read_bytes())
    with pytest.raises(AssertionError, match="copied again"):  # a changed set is read again
        compiled.compile_sets(again, Output(f"{s3_bucket}/run"))

    raw["sources"][0]["dir"] = f"{s3_bucket}/no-such-folder/"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(raw))
    bad = _irdata("build", "bad.yaml", "--out", f"{s3_bucket}/bad", "--workers", "1",
                  cwd=tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert f"source 'folder': cannot read {s3_bucket}/no-such-folder/" in bad.stderr


@pytest.fixture
def shared_nothing_cluster(tmp_path, s3_endpoint):
    """`dask scheduler` and two `dask worker` processes (with nannies), each worker
    in its own working directory and TMPDIR: they share no folder with the client."""
    scheduler_file = tmp_path / "scheduler" / "scheduler.json"
    scheduler_file.parent.mkdir()
    bindir = os.path.dirname(sys.executable)
    base_env = dict(os.environ, DASK_DISTRIBUTED__WORKER__DAEMON="False")
    procs = [subprocess.Popen([os.path.join(bindir, "dask"), "scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file",
                               str(scheduler_file)], cwd=scheduler_file.parent,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=base_env)]
    homes = []
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        for number in range(2):
            home = tmp_path / f"worker{number}"
            (home / "tmp").mkdir(parents=True)
            homes.append(home)
            env = dict(base_env, TMPDIR=str(home / "tmp"))
            procs.append(subprocess.Popen(
                [os.path.join(bindir, "dask"), "worker", "--scheduler-file", str(scheduler_file),
                 "--nthreads", "1", "--no-dashboard", "--local-directory", str(home / "dask")],
                cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
        address = json.loads(scheduler_file.read_text())["address"]
        _wait_for_workers(address, 2)
        yield address, homes
    finally:
        stop_processes(procs)


def _worker_pids(address: str) -> dict[str, int]:
    from distributed import Client

    with Client(address, timeout="30s") as client:
        return client.run(os.getpid)


def test_a_shared_nothing_cluster_builds_on_s3_through_a_worker_kill(
        tmp_path, served, s3_bucket, shared_nothing_cluster):
    """Workers see only S3 and the web: the client's folder gains nothing, each
    worker keeps its own copies in its own TMPDIR; a worker SIGKILLed mid-build is
    replaced and the objects equal a local build's, with no temporaries left."""
    address, homes = shared_nothing_cluster
    folder, base, handler = served
    names = _photos(folder, 24, size=(900, 600))
    client_dir = tmp_path / "client"
    client_dir.mkdir()
    (client_dir / "evalset").mkdir()
    (client_dir / "evalset" / "e.jpg").write_bytes((folder / names[0]).read_bytes())
    pipeline = _pipeline(client_dir, base, names, images_per_partition=4,
                         exclude=[{"name": "evalset", "dir": "evalset"}])
    reference = _irdata("build", pipeline, "--out", str(tmp_path / "ref"), "--workers", "2",
                        cwd=client_dir)
    assert reference.returncode == 0, reference.stderr
    before = sorted(p.relative_to(client_dir) for p in client_dir.rglob("*"))

    handler.delay = 0.1
    root = f"{s3_bucket}/cluster"
    proc = subprocess.Popen([sys.executable, "-m", "irdata", "build", pipeline, "--out", root,
                             "--scheduler", address], cwd=client_dir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    out = Output(root)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(out.glob("raw/*.done")) < 2:
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    victim = sorted(_worker_pids(address).values())[0]
    os.kill(victim, signal.SIGKILL)  # its nanny starts a new worker process
    _, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr

    assert _digest(_objects(root)) == _digest(_outputs(tmp_path / "ref"))
    assert not [p for p in out.fs.find(out.base) if TMP_MARK in p]
    assert sorted(p.relative_to(client_dir) for p in client_dir.rglob("*")) == before
    copies = [p for home in homes for p in (home / "tmp").rglob("*.npy")]
    assert copies and all("irdata-exclude" in str(p) for p in copies)


def test_a_store_down_for_seconds_mid_build_is_retried_and_the_build_completes(
        tmp_path, served, s3_bucket):
    """The endpoint stops for 3 s during the fetch stage: writes and reads are retried
    (by the store client, then as a task) and the objects equal a local build's."""
    from moto.server import ThreadedMotoServer

    folder, base, handler = served
    names = _photos(folder, 16, size=(900, 600))
    pipeline = _pipeline(tmp_path, base, names, images_per_partition=4)
    reference = _irdata("build", pipeline, "--out", "ref", "--workers", "2", cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()  # the same buckets (moto keeps them per process), another port
    host, port = server.get_host_and_port()
    env = dict(os.environ, AWS_ENDPOINT_URL=f"http://{host}:{port}")
    handler.delay = 0.1
    root = f"{s3_bucket}/outage"
    proc = subprocess.Popen([sys.executable, "-m", "irdata", "build", pipeline, "--out", root,
                             "--workers", "2"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    out = Output(root)  # through the session's server: the same objects
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(out.glob("raw/*.done")) < 1:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        server.stop()
        time.sleep(3)
        assert proc.poll() is None, "the build ended while the store was down"
        assert len(out.glob("raw/*.done")) < 4  # work was left for the outage to hit
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        _, stderr = proc.communicate(timeout=240)
    finally:
        server.stop()
    assert proc.returncode == 0, stderr
    assert _digest(_objects(root)) == _digest(_outputs(tmp_path / "ref"))
    assert not [p for p in out.fs.find(out.base) if TMP_MARK in p]


@pytest.fixture(scope="module")
def authenticating_s3(s3_endpoint):  # (its fake credentials in the environment)
    """A second moto server that checks credentials and IAM policies (after its first
    4 requests, which make a read-only user and a bucket): (endpoint, key, secret)."""
    import socket

    import boto3

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="4")
    server = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "moto_server"),
                               "-H", "127.0.0.1", "-p", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
        iam.create_user(UserName="reader")
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        iam.put_user_policy(UserName="reader", PolicyName="read-only", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*",
             "Action": ["s3:GetObject", "s3:ListBucket", "s3:ListBucketMultipartUploads"]}]}))
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket="read-only-bucket")
        yield endpoint, key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.mark.parametrize("problem", ["wrong credentials", "read-only bucket"])
def test_denied_access_is_one_line_before_any_work(tmp_path, served, authenticating_s3,
                                                   problem):
    endpoint, key, secret = authenticating_s3
    folder, base, _ = served
    pipeline = _pipeline(tmp_path, base, _photos(folder, 1))
    if problem == "wrong credentials":
        key, secret = "AKIAIRDATAWRONGKEY00", "not-the-secret"
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID=key,
               AWS_SECRET_ACCESS_KEY=secret)
    root = "s3://read-only-bucket/run"
    result = _irdata("build", pipeline, "--out", root, "--workers", "1", cwd=tmp_path, env=env,
                     timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"irdata: error: {root}: cannot write there: "
                                                   "access denied"), result.stderr
    assert secret not in result.stderr
