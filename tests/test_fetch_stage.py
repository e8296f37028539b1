"""The fetch stage end to end over the fault server: URL list -> plan -> every
partition's raw/NNNNN.{tar,parquet,stats.json}, without Dask."""

from __future__ import annotations

import csv
import hashlib
import json
import tarfile
from collections import Counter

import pyarrow.parquet as pq
import pytest

from irdata import config as irconfig
from irdata.keys import image_id, partition_name
from irdata.sources.plan import make_plan
from irdata.stages import complete
from irdata.storage import Output

MiB = 1024 * 1024

# route -> (status, reason, http_status); the fetch cap in the YAML is 1 MiB.
CASES = {
    "ok/one.jpg": ("ok", "", 200),
    "ok/two.jpg": ("ok", "", 200),
    "flaky/1/three.jpg": ("ok", "", 200),
    "retry-after/1/four.jpg": ("ok", "", 200),
    "chain/2/five.jpg": ("ok", "", 200),
    "truncated-once/six.jpg": ("ok", "", 200),
    "always500/a.jpg": ("failed", "http_500", 500),
    "status/404/b.jpg": ("failed", "http_404", 404),
    "truncated/c.jpg": ("failed", "truncated_body", 200),
    "html/d.jpg": ("dropped", "html", 200),
    f"big/{2 * MiB}/e.jpg": ("dropped", "too_large", 200),
    f"big-chunked/{2 * MiB}/f.jpg": ("dropped", "too_large", 200),
    "endless/g.jpg": ("dropped", "too_large", 200),
    "robots/noai/h.jpg": ("dropped", "optout", 200),
    "robots/otherbot%3A%20noimageai/i.jpg": ("dropped", "optout", 200),
    "loop/j.jpg": ("failed", "too_many_redirects", None),
    "stall/k.jpg": ("failed", "timeout", 200),
}
PER_PARTITION = 4  # a size the plan keeps (plan.partition_size) for 17 items


def _caption(route: str) -> str:
    return f"caption, with \"quotes\" and ü for {route}"


def _write_list(path, server) -> dict[str, str]:
    """The URL list CSV; returns url -> route."""
    urls = {server.url(route): route for route in CASES}
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["url", "license", "source", "caption"])
        for url, route in urls.items():
            writer.writerow([url, "CC-BY-4.0", "faultsite", _caption(route)])
    return urls


def _write_pipeline(tmp_path, list_path, out) -> str:
    path = tmp_path / "pipeline.yaml"
    path.write_text(f"""\
output: {out}
seed: 7
images_per_partition: {PER_PARTITION}
sources:
  - name: faults
    urls: {list_path}
fetch:
  threads: 4
  per_host: 4
  retries: 2
  backoff: 0.05
  backoff_max: 0.2
  connect_timeout: 2
  read_timeout: 1
  total_timeout: 3
  max_bytes: 1MiB
  allow_private_networks: true
""", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def built(tmp_path_factory, module_fault_server):
    """Plan and fetch every partition once; returns what the tests need to check."""
    tmp_path, fault_server = tmp_path_factory.mktemp("fetch_stage"), module_fault_server
    out = str(tmp_path / "out")
    urls = _write_list(tmp_path / "urls.csv", fault_server)
    config = irconfig.load(_write_pipeline(tmp_path, tmp_path / "urls.csv", out))
    plan = make_plan(config, Output(out))
    stats = [complete("fetch", config, out, i) for i in range(plan.partitions)]
    return {"out": out, "urls": urls, "plan": plan, "stats": stats, "server": fault_server}


def _rows(out: str, index: int) -> list[dict]:
    return pq.read_table(f"{out}/raw/{partition_name(index)}.parquet").to_pylist()


def _tar_members(out: str, index: int) -> dict[str, bytes]:
    with tarfile.open(f"{out}/raw/{partition_name(index)}.tar") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def _json(path: str):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _served(route: str, server) -> bytes:
    return server.image(route.rsplit("/", 1)[-1])


def test_plan_cuts_the_list_into_partitions(built):
    plan = built["plan"]
    assert plan.items == len(CASES)
    assert plan.partitions == -(-len(CASES) // PER_PARTITION) == 5
    assert plan.per_source == {"faults": len(CASES)}


def test_one_row_per_url_with_status_reason_and_http_status(built):
    out, urls = built["out"], built["urls"]
    rows = [row for i in range(built["plan"].partitions) for row in _rows(out, i)]
    assert sorted(row["locator"] for row in rows) == sorted(urls)
    for row in rows:
        route = urls[row["locator"]]
        expected = CASES[route]
        assert (row["status"], row["reason"], row["http_status"]) == expected, route
        assert row["image_id"] == image_id(row["locator"])
        assert (row["source"], row["source_name"], row["license"]) == (
            "faultsite", "faults", "CC-BY-4.0")
        assert json.loads(row["extra"]) == {"caption": _caption(route)}


def test_rows_stay_in_their_partition_in_plan_order(built):
    out = built["out"]
    locators = []
    for index in range(built["plan"].partitions):
        rows = _rows(out, index)
        assert {row["partition"] for row in rows} == {index}
        assert len(rows) == min(PER_PARTITION, len(CASES) - index * PER_PARTITION)
        locators += [row["locator"] for row in rows]
    assert locators == sorted(locators)


def test_attempts_are_recorded(built):
    out, urls = built["out"], built["urls"]
    attempts = {urls[r["locator"]]: r["attempts"]
                for i in range(built["plan"].partitions) for r in _rows(out, i)}
    assert attempts["ok/one.jpg"] == 1
    assert attempts["flaky/1/three.jpg"] == 2
    assert attempts["retry-after/1/four.jpg"] == 2
    assert attempts["truncated-once/six.jpg"] == 2
    assert attempts["always500/a.jpg"] == 3  # retries: 2
    assert attempts["truncated/c.jpg"] == 3
    assert attempts["status/404/b.jpg"] == 1
    assert attempts["always500/a.jpg"] == built["server"].hits("always500/a.jpg")


def test_tar_holds_exactly_the_ok_images_with_their_served_bytes(built):
    out, urls, server = built["out"], built["urls"], built["server"]
    seen_ok = 0
    for index in range(built["plan"].partitions):
        rows = _rows(out, index)
        members = _tar_members(out, index)
        ok = [row for row in rows if row["status"] == "ok"]
        expected = sorted(f"{image_id(r['locator'])}.{ext}" for r in ok for ext in ("jpg", "json"))
        assert sorted(members) == expected
        for row in ok:
            key, route = image_id(row["locator"]), urls[row["locator"]]
            served = _served(route, server)
            assert members[f"{key}.jpg"] == served
            assert row["sha256"] == hashlib.sha256(served).hexdigest()
            assert (row["bytes"], row["width"], row["height"]) == (len(served), 768, 576)
            assert row["shard"] == f"raw/{partition_name(index)}.tar"
            sample = json.loads(members[f"{key}.json"])
            assert sample["image_id"] == key
            assert sample["locator"] == row["locator"]
            assert sample["extra"] == {"caption": _caption(route)}
            assert (sample["license"], sample["http_status"]) == ("CC-BY-4.0", 200)
        for row in rows:
            if row["status"] != "ok":
                assert row["shard"] is None
        seen_ok += len(ok)
    assert seen_ok == sum(1 for case in CASES.values() if case[0] == "ok")


def test_tar_members_are_in_plan_order(built):
    out = built["out"]
    for index in range(built["plan"].partitions):
        with tarfile.open(f"{out}/raw/{partition_name(index)}.tar") as tar:
            names = [m.name for m in tar.getmembers()]
        ok_keys = [image_id(r["locator"]) for r in _rows(out, index) if r["status"] == "ok"]
        assert names == [f"{k}.{ext}" for k in ok_keys for ext in ("jpg", "json")]


def test_stats_agree_with_the_rows(built):
    out, server = built["out"], built["server"]
    for index, returned in enumerate(built["stats"]):
        stats = _json(f"{out}/raw/{partition_name(index)}.stats.json")
        rows = _rows(out, index)
        assert stats["partition"] == index
        assert stats["items"] == len(rows)
        assert stats["status"] == dict(Counter(r["status"] for r in rows))
        assert stats["reasons"] == dict(Counter(
            f"{r['status']}:{r['reason']}" for r in rows if r["reason"]))
        ok = [r for r in rows if r["status"] == "ok"]
        assert stats["samples"] == len(ok)
        assert stats["bytes"] == sum(len(_served(built["urls"][r["locator"]], server)) for r in ok)
        assert {k: v for k, v in stats.items() if k != "seconds"} == {
            k: v for k, v in returned.items() if k != "seconds"}
        done = _json(f"{out}/raw/{partition_name(index)}.done")
        assert done == {"partition": index, "shard": stats["shard"]}  # written by complete()
        tar_bytes = open(f"{out}/raw/{partition_name(index)}.tar", "rb").read()
        assert stats["shard"]["sha256"] == hashlib.sha256(tar_bytes).hexdigest()
        assert stats["shard"]["bytes"] == len(tar_bytes)
    totals = Counter()
    for stats in built["stats"]:
        totals.update(stats["reasons"])
    assert totals == Counter({
        "failed:http_500": 1, "failed:http_404": 1, "failed:truncated_body": 1,
        "failed:too_many_redirects": 1, "failed:timeout": 1, "dropped:html": 1,
        "dropped:too_large": 3, "dropped:optout": 2})


def test_tar_members_are_plain_files_with_a_fixed_mtime(built):
    with tarfile.open(f"{built['out']}/raw/{partition_name(0)}.tar") as tar:
        members = tar.getmembers()
    assert members and all(m.isfile() and m.mtime == 0 and m.mode == 0o644 for m in members)
