"""`irdata train import`: an official DyNet release checkpoint -> an irdata checkpoint.

The official layout is rebuilt here from its key names and shapes (DyNet_large with its
prompts, dim 48, as the authors' modules name them), never from their code: each tensor
gets distinct random values, so where every one of them lands can be checked."""

import argparse

import pytest
import torch

from irdata.cli import main
from irdata.train import checkpoint, loop, official
from irdata.train.models.dynet import DyNet


def official_layout(dim=48, heads=(1, 2, 4, 8), ffn=2.66, refinement=4) -> dict:
    """{official name: shape} of DyNet_large(decoder=True)."""
    shapes = {}

    def block(name, c, h):
        hidden = int(c * ffn)
        for norm in ("norm1", "norm2"):
            shapes[f"{name}.{norm}.body.weight"] = (c,)
            shapes[f"{name}.{norm}.body.bias"] = (c,)
        shapes.update({f"{name}.attn.temperature": (h, 1, 1),
                       f"{name}.attn.qkv.weight": (3 * c, c, 1, 1),
                       f"{name}.attn.qkv_dwconv.weight": (3 * c, 1, 3, 3),
                       f"{name}.attn.project_out.weight": (c, c, 1, 1),
                       f"{name}.ffn.project_in.weight": (2 * hidden, c, 1, 1),
                       f"{name}.ffn.dwconv.weight": (2 * hidden, 1, 3, 3),
                       f"{name}.ffn.project_out.weight": (c, hidden, 1, 1)})

    def conv(name, cout, cin, k):
        shapes[f"{name}.weight"] = (cout, cin, k, k)

    def prompt(name, pdim, size, lin, length=5):
        shapes[f"{name}.prompt_param"] = (1, length, pdim, size, size)
        shapes[f"{name}.linear_layer.weight"] = (length, lin)
        shapes[f"{name}.linear_layer.bias"] = (length,)
        conv(f"{name}.conv3x3", pdim, pdim, 3)

    conv("patch_embed.proj", dim, 3, 3)
    prompt("prompt1", 64, 64, 2 * dim)
    prompt("prompt2", 128, 32, 4 * dim)
    prompt("prompt3", 320, 16, 8 * dim)
    conv("reduce_noise_channel_1", dim, dim + 64, 1)
    conv("reduce_noise_channel_2", 2 * dim, 2 * dim + 128, 1)
    conv("reduce_noise_channel_3", 4 * dim, 4 * dim + 256, 1)
    block("encoder_level1", dim, heads[0])
    conv("down1_2.body.0", dim // 2, dim, 3)
    block("encoder_level2", 2 * dim, heads[1])
    conv("down2_3.body.0", dim, 2 * dim, 3)
    block("encoder_level3", 4 * dim, heads[2])
    conv("down3_4.body.0", 2 * dim, 4 * dim, 3)
    block("latent", 8 * dim, heads[3])
    conv("up4_3.body.0", 8 * dim, 4 * dim, 3)
    conv("reduce_chan_level3", 4 * dim, 2 * dim + 192, 1)
    block("noise_level3", 4 * dim + 512, heads[2])
    conv("reduce_noise_level3", 4 * dim, 4 * dim + 512, 1)
    block("decoder_level3", 4 * dim, heads[2])
    conv("up3_2.body.0", 8 * dim, 4 * dim, 3)
    conv("reduce_chan_level2", 2 * dim, 4 * dim, 1)
    block("noise_level2", 2 * dim + 224, heads[2])
    conv("reduce_noise_level2", 4 * dim, 2 * dim + 224, 1)
    block("decoder_level2", 2 * dim, heads[1])
    conv("up2_1.body.0", 4 * dim, 2 * dim, 3)
    block("noise_level1", 2 * dim + 64, heads[2])
    conv("reduce_noise_level1", 2 * dim, 2 * dim + 64, 1)
    block("decoder_level1", 2 * dim, heads[0])
    for i in range(refinement):
        block(f"refinement.{i}", 2 * dim, heads[0])
    conv("output", 3, 2 * dim, 3)
    return shapes


def lightning_file(path, tensors: dict) -> str:
    """What Lightning saves: the network under `net.`, and the trainer's state."""
    torch.save({"epoch": 119, "global_step": 35640, "pytorch-lightning_version": "2.1.0",
                "state_dict": {f"net.{k}": v for k, v in tensors.items()},
                "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"current": 120}}},
                "callbacks": {"ModelCheckpoint{'monitor': None}": {"best_model_score": None,
                                                                   "dirpath": "ckpt/"}},
                "optimizer_states": [{"state": {}, "param_groups": [{"lr": 2e-4}]}],
                "lr_schedulers": [{"base_lrs": [2e-4], "last_epoch": 119}],
                "hyper_parameters": argparse.Namespace(batch_size=8, epochs=120)}, path)
    return str(path)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    torch.manual_seed(0)
    tensors = {name: torch.randn(shape) for name, shape in official_layout().items()}
    folder = tmp_path_factory.mktemp("official")
    return tensors, lightning_file(folder / "DyNet.ckpt", tensors)


def test_every_official_tensor_lands_where_it_should(release, tmp_path, capsys):
    tensors, ckpt = release
    out = tmp_path / "dynet.pt"
    assert main(["train", "import", ckpt, "--out", str(out)]) == 0
    assert "dropped" in capsys.readouterr().err
    model, state = checkpoint.load_model(str(out))
    ours = model.state_dict()
    dropped = {f"reduce_noise_channel_{i}.weight" for i in (1, 2, 3)}
    assert state["imported"]["dropped"] == sorted(dropped)
    assert state["imported"]["epoch"] == 119
    assert len(ours) == len(tensors) - len(dropped)
    # named counterparts, the prompt parameter's leading 1 squeezed
    expected = {
        "patch_embed.proj.weight": "patch_embed.proj.weight",
        "encoder1.norm1.weight": "encoder_level1.norm1.body.weight",
        "encoder1.norm2.bias": "encoder_level1.norm2.body.bias",
        "encoder3.attn.temperature": "encoder_level3.attn.temperature",
        "down2.body.0.weight": "down2_3.body.0.weight",
        "latent.ffn.project_out.weight": "latent.ffn.project_out.weight",
        "latent_prompt.gen.linear.weight": "prompt3.linear_layer.weight",
        "latent_prompt.gen.conv.weight": "prompt3.conv3x3.weight",
        "latent_prompt.interact.block.attn.qkv.weight": "noise_level3.attn.qkv.weight",
        "latent_prompt.interact.reduce.weight": "reduce_noise_level3.weight",
        "skip_prompt3.interact.block.norm1.bias": "noise_level2.norm1.body.bias",
        "skip_prompt3.interact.reduce.weight": "reduce_noise_level2.weight",
        "skip_prompt2.gen.linear.bias": "prompt1.linear_layer.bias",
        "skip_prompt2.interact.block.ffn.dwconv.weight": "noise_level1.ffn.dwconv.weight",
        "fuse3.weight": "reduce_chan_level3.weight",
        "fuse2.weight": "reduce_chan_level2.weight",
        "decoder1.attn.project_out.weight": "decoder_level1.attn.project_out.weight",
        "refinement.3.ffn.project_in.weight": "refinement.3.ffn.project_in.weight",
        "output.weight": "output.weight",
    }
    for mine, theirs in expected.items():
        assert torch.equal(ours[mine], tensors[theirs]), mine
    for mine, theirs in (("latent_prompt.gen.prompt", "prompt3.prompt_param"),
                         ("skip_prompt3.gen.prompt", "prompt2.prompt_param"),
                         ("skip_prompt2.gen.prompt", "prompt1.prompt_param")):
        assert torch.equal(ours[mine], tensors[theirs][0]), mine
    # and every other tensor is found once, whole, under exactly one name
    by_value = {tensor.flatten()[:4].tolist().__repr__(): name for name, tensor in ours.items()}
    assert len(by_value) == len(ours)
    for name, tensor in tensors.items():
        if name in dropped:
            continue
        mine = by_value[tensor.flatten()[:4].tolist().__repr__()]
        assert torch.equal(ours[mine].flatten(), tensor.flatten()), name


def test_eval_restore_and_finetune_read_the_result(release, tmp_path):
    tensors, ckpt = release
    out = tmp_path / "dynet.pt"
    main(["train", "import", ckpt, "--out", str(out)])
    model, _ = checkpoint.load_model(str(out))  # what eval and restore load
    assert isinstance(model, DyNet)
    with torch.no_grad():
        y = model(torch.rand(1, 3, 24, 24), "S")
    assert y.shape == (1, 3, 24, 24) and torch.isfinite(y).all()
    start = loop._initial_model({"mode": "finetune", "init": str(out), "seed": 0})
    assert start.training
    assert torch.equal(start.state_dict()["fuse2.weight"], tensors["reduce_chan_level2.weight"])


def test_the_official_file_given_as_a_checkpoint_says_to_import_it(release, capsys):
    _, ckpt = release
    assert main(["eval", "--checkpoint", ckpt, "--clean", ".", "--noise-sigma", "25"]) == 2
    err = capsys.readouterr().err
    assert "official DyNet checkpoint" in err and "irdata train import" in err
    assert len(err.strip().splitlines()) == 1


def test_files_of_neither_format_get_one_line_naming_what_was_found(tmp_path, capsys):
    other = tmp_path / "other.pt"
    torch.save({"model": {"conv.weight": torch.zeros(1)}, "epoch": 3}, other)
    assert main(["train", "import", str(other), "--out", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not an official DyNet checkpoint" in err and "epoch, model" in err
    assert main(["eval", "--checkpoint", str(other), "--clean", ".",
                 "--noise-sigma", "25"]) == 2
    err = capsys.readouterr().err.strip()
    assert "not an irdata checkpoint" in err and "epoch, model" in err
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a torch file at all")
    assert main(["train", "import", str(garbage), "--out", str(tmp_path / "y.pt")]) == 2
    assert "weights_only=True" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "y.pt").exists()


def test_code_in_the_file_is_never_run(tmp_path, capsys):
    class Payload:
        def __reduce__(self):
            return (print, ("this ran",))

    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"net.patch_embed.proj.weight": torch.zeros(1)},
                "extra": Payload()}, evil)
    assert main(["train", "import", str(evil), "--out", str(tmp_path / "z.pt")]) == 2
    captured = capsys.readouterr()
    assert "this ran" not in captured.out and "weights_only=True" in captured.err


def test_a_tensor_of_the_wrong_shape_or_an_unknown_one_is_named(release, tmp_path, capsys):
    tensors, _ = release
    wrong = dict(tensors, **{"output.weight": torch.zeros(3, 48, 3, 3)})
    path = lightning_file(tmp_path / "wrong.ckpt", wrong)
    assert main(["train", "import", path, "--out", str(tmp_path / "w.pt")]) == 2
    assert "output.weight" in capsys.readouterr().err
    extra = dict(tensors, **{"mystery_block.weight": torch.zeros(2)})
    path = lightning_file(tmp_path / "extra.ckpt", extra)
    assert main(["train", "import", path, "--out", str(tmp_path / "e.pt")]) == 2
    assert "mystery_block.weight" in capsys.readouterr().err


def test_rename_rules():
    assert official.rename("reduce_noise_channel_2.weight") is None
    assert official.rename("noise_level1.norm2.body.weight") == \
        "skip_prompt2.interact.block.norm2.weight"
    with pytest.raises(KeyError):
        official.rename("something_else.weight")
