"""The documents a user reads first stay true to the code."""

from pathlib import Path

from irdata.config import describe
from irdata.stages import describe as describe_stages

ROOT = Path(__file__).resolve().parents[1]


def test_pipelines_readme_lists_every_setting_with_its_default():
    text = (ROOT / "pipelines" / "README.md").read_text()
    missing = [row for row in describe().splitlines() if row not in text]
    assert missing == []


def test_pipelines_readme_says_what_every_stage_does():
    text = (ROOT / "pipelines" / "README.md").read_text()
    assert [row for row in describe_stages().splitlines() if row not in text] == []


def test_readme_starts_with_the_two_make_commands():
    head = (ROOT / "README.md").read_text().split("\n\n")[1]
    assert "make demo" in head and "make test" in head


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_example_pipeline_validates(tmp_path, monkeypatch):
    """The shipped example is valid once its local inputs exist."""
    import yaml

    from irdata.config import validate

    raw = yaml.safe_load((ROOT / "pipelines" / "example.yaml").read_text())
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "photos.csv").write_text("url\n")
    (tmp_path / "pictures").mkdir()
    monkeypatch.chdir(tmp_path)
    config = validate(raw, "example.yaml", str(tmp_path))
    assert [s["kind"] for s in config["sources"]] == ["urls", "dir", "archive"]
    assert config["fetch"]["allow_private_networks"] is False


def test_training_guide_lists_every_training_setting():
    from irdata.train.settings import describe as describe_training

    text = (ROOT / "pipelines" / "TRAINING.md").read_text()
    assert [row for row in describe_training().splitlines() if row not in text] == []
