"""Models: DyNet (paper parameter count, shared L/S weights, any input size,
trainability, checkpoints) and the RED-Net baseline. Tiny configs except the count."""

from __future__ import annotations

import pytest
import torch

from irdata.train.models.dynet import DyNet, dynet_config, pad_to_multiple
from irdata.train.models.rednet import REDNet


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from threads, and a busy 2-core box makes them ~30x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def tiny(seed: int = 0) -> DyNet:
    torch.manual_seed(seed)
    return DyNet.tiny()


def test_paper_config_has_the_papers_parameter_count():
    model = DyNet()
    assert abs(n_params(model) - 16.73e6) / 16.73e6 < 0.02
    assert model.config == dynet_config("paper")
    assert model.repeats("L") == (4, 6, 6, 8)
    assert model.repeats("S") == (2, 3, 3, 4)


def test_variants_share_one_state_dict_and_differ():
    model = tiny().eval()
    x = torch.rand(2, 3, 24, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out_l, out_s = model(x, "L"), model(x, "S")
    assert not torch.allclose(out_l, out_s, atol=1e-4)

    fresh = DyNet(**model.config).eval()
    fresh.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(fresh(x, "L"), out_l)
        assert torch.equal(fresh(x, "S"), out_s)
        assert torch.equal(model(x, [1, 1, 1, 1]), out_s)  # tiny S is f = [1, 1, 1, 1]


def test_bad_variants_are_refused():
    model = tiny()
    for bad in ("M", [1, 2, 3], [1, 0, 1, 1]):
        with pytest.raises(ValueError):
            model.repeats(bad)
    with pytest.raises(ValueError):
        dynet_config("huge")


def test_odd_sizes_keep_their_shape():
    x = torch.rand(1, 3, 37, 53)
    padded = pad_to_multiple(x, 8)
    assert padded.shape == (1, 3, 40, 56)
    assert torch.equal(padded[..., :37, :53], x)
    assert pad_to_multiple(torch.rand(1, 3, 3, 5), 8).shape == (1, 3, 8, 8)  # replicate
    model = tiny().eval()
    with torch.no_grad():
        for variant in ("L", "S"):
            assert model(x, variant).shape == x.shape


@pytest.mark.parametrize("variant", ["L", "S"])
def test_a_few_adam_steps_lower_the_l1_loss(variant):
    model = tiny(seed=2)
    gen = torch.Generator().manual_seed(3)
    clean = torch.rand(2, 3, 32, 32, generator=gen)
    noisy = clean + 0.2 * torch.randn(2, 3, 32, 32, generator=gen)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, betas=(0.9, 0.999))
    losses = []
    for _ in range(8):
        loss = torch.nn.functional.l1_loss(model(noisy, variant), clean)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0], losses


def test_gradients_reach_every_parameter_under_l():
    model = tiny(seed=4)
    model(torch.rand(1, 3, 16, 24), "L").abs().mean().backward()
    missing = [name for name, p in model.named_parameters()
               if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_weights_only_checkpoint_reproduces_outputs(tmp_path):
    model = tiny(seed=5).eval()
    path = tmp_path / "ckpt.pt"
    torch.save({"config": model.config, "model": model.state_dict()}, path)
    ckpt = torch.load(path, weights_only=True)
    loaded = DyNet(**ckpt["config"]).eval()
    loaded.load_state_dict(ckpt["model"])
    x = torch.rand(1, 3, 21, 19)
    with torch.no_grad():
        for variant in ("L", "S"):
            assert torch.equal(loaded(x, variant), model(x, variant))


@pytest.mark.parametrize("depth,expected", [(20, 668_227), (30, 1_037_507)])
def test_rednet_shapes_and_parameter_count(depth, expected):
    torch.manual_seed(6)
    model = REDNet(depth=depth)
    assert n_params(model) == expected
    assert len(model.convs) == len(model.deconvs) == depth // 2
    x = torch.rand(2, 3, 21, 17)
    out = model(x)
    assert out.shape == x.shape
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_rednet_checkpoints_and_is_residual(tmp_path):
    model = REDNet(depth=20, features=8).eval()
    x = torch.rand(1, 3, 9, 11)
    torch.save({"config": model.config, "model": model.state_dict()}, tmp_path / "red.pt")
    ckpt = torch.load(tmp_path / "red.pt", weights_only=True)
    loaded = REDNet(**ckpt["config"]).eval()
    loaded.load_state_dict(ckpt["model"])
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
        model.deconvs[-1].weight.zero_()
        model.deconvs[-1].bias.zero_()
        assert torch.equal(model(x), x)  # out = net(x) + x
    with pytest.raises(ValueError):
        REDNet(depth=15)
