"""Distillation: one student learns several teachers at once (task transfer learning).

Every training sample belongs to one task of the config, and that task's teacher (a
checkpoint, frozen) restores the same input. The student is pulled towards each teacher's
output (L1, `output_weight`) and towards its features at the `taps` (module names present
in both networks; the student's feature goes through a 1x1 conv to the teacher's width,
one per teacher and tap; mean L1 over the taps, `feature_weight`); `gt_weight` adds L1 to
the clean target. A tap applied several times (DyNet repeats its blocks) is read at its
last call. `Distiller.forward(x, variant)` is the student, so eval and restore work on it;
with `gt` and `tasks` it returns the loss. Teachers run as DyNet-L."""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from irdata.errors import ConfigError
from irdata.train import checkpoint, models

PROBE_SIDE = 32  # the dry run that measures every tap's width
NAME = "distiller"


@contextmanager
def tapped(model: nn.Module, taps: list[str]):
    """{tap: last output} of these submodules while the block runs."""
    found: dict[str, torch.Tensor] = {}
    modules = dict(model.named_modules())
    handles = [modules[tap].register_forward_hook(
        lambda _m, _i, out, tap=tap: found.__setitem__(tap, out)) for tap in taps]
    try:
        yield found
    finally:
        for handle in handles:
            handle.remove()


def _check_taps(name: str, model: nn.Module, taps: list[str]) -> None:
    modules = dict(model.named_modules())
    missing = [tap for tap in taps if tap not in modules]
    if missing:
        tops = ", ".join(n for n, _ in model.named_children())
        raise ConfigError("distill", f"the {name} has no module '{missing[0]}' for "
                                     f"distill.taps (its modules: {tops})")


def _probe(model: nn.Module, taps: list[str]) -> dict[str, tuple[int, ...]]:
    """The (channels, height, width) each tap gives for a PROBE_SIDE input."""
    x = torch.zeros(1, 3, PROBE_SIDE, PROBE_SIDE)
    with torch.no_grad(), tapped(model, taps) as found:
        models.run(model, x, "L")
    shapes = {}
    for tap in taps:
        value = found.get(tap)
        if not isinstance(value, torch.Tensor) or value.dim() != 4:
            raise ConfigError("distill", f"tap '{tap}' gives no (B, C, H, W) feature")
        shapes[tap] = tuple(value.shape[1:])
    return shapes


def _projection(student: tuple[int, ...], teacher: tuple[int, ...], where: str) -> nn.Module:
    if student[1:] != teacher[1:]:
        raise ConfigError("distill", f"{where}: the student's feature is "
                                     f"{student[1]}x{student[2]}, the teacher's "
                                     f"{teacher[1]}x{teacher[2]}: they cannot be matched")
    if student[0] == teacher[0]:
        return nn.Identity()
    return nn.Conv2d(student[0], teacher[0], kernel_size=1, bias=False)


def _key(teacher: str, tap: str) -> str:
    """The projection's name (module names may not hold dots)."""
    return f"{teacher}.{tap}".replace(".", "__")


class Distiller(nn.Module):
    """The student, its frozen teachers (one per task) and the projections."""

    def __init__(self, student: nn.Module, teachers: dict[str, nn.Module],
                 settings: dict, paths: dict[str, str]):
        super().__init__()
        self.student, self.teachers = student, nn.ModuleDict(teachers)
        self.settings, self.paths = dict(settings), dict(paths)
        taps = list(settings["taps"])
        _check_taps("student", student, taps)
        mine = _probe(student, taps)
        projections = {}
        for name, teacher in teachers.items():
            teacher.requires_grad_(False)
            _check_taps(f"teacher '{name}'", teacher, taps)
            theirs = _probe(teacher, taps)
            for tap in taps:
                where = f"teacher '{name}', tap '{tap}'"
                projections[_key(name, tap)] = _projection(
                    mine[tap], theirs[tap], where)
        self.projections = nn.ModuleDict(projections)

    def train(self, mode: bool = True):
        super().train(mode)
        self.teachers.eval()  # frozen, and no dropout or norm updates
        return self

    def spec(self) -> dict:
        return {"name": NAME, "config": None,
                "options": {"student": models.spec(self.student), "teachers": self.paths,
                            "settings": self.settings}}

    def forward(self, x: torch.Tensor, variant=None, gt: torch.Tensor | None = None,
                tasks: list[str] | None = None):
        if gt is None:
            return models.run(self.student, x, variant)
        taps = list(self.settings["taps"])
        with tapped(self.student, taps) as mine:
            out = models.run(self.student, x, variant)
        loss = self.settings["gt_weight"] * F.l1_loss(out, gt) if self.settings["gt_weight"] \
            else out.new_zeros(())
        for name in sorted(set(tasks)):
            rows = torch.tensor([i for i, t in enumerate(tasks) if t == name], device=x.device)
            loss = loss + self._teacher_loss(name, x[rows], out[rows], mine, rows) * (
                len(rows) / len(tasks))
        return loss

    def _teacher_loss(self, name: str, x, out, mine: dict, rows) -> torch.Tensor:
        taps = list(self.settings["taps"])
        with torch.no_grad(), tapped(self.teachers[name], taps) as theirs:
            target = models.run(self.teachers[name], x, "L")
        loss = self.settings["output_weight"] * F.l1_loss(out, target)
        if taps and self.settings["feature_weight"]:
            matched = [F.l1_loss(self.projections[_key(name, tap)](mine[tap][rows]), theirs[tap])
                       for tap in taps]
            loss = loss + self.settings["feature_weight"] * torch.stack(matched).mean()
        return loss


def build(model: dict, settings: dict, student: nn.Module | None = None) -> Distiller:
    """A Distiller of `student` (default: a new one from the `model` block) and the
    checkpoints in settings["teachers"]."""
    student = student if student is not None else models.build(model)
    teachers = {name: checkpoint.load_model(path)[0]
                for name, path in sorted(settings["teachers"].items())}
    return Distiller(student, teachers, {k: v for k, v in settings.items() if k != "teachers"},
                     dict(settings["teachers"]))


def from_spec(spec: dict) -> Distiller:
    """Rebuild a Distiller from a checkpoint's model_spec (weights loaded after)."""
    options = spec["options"]
    student = models.from_spec(options["student"])
    return build({}, {**options["settings"], "teachers": options["teachers"]}, student)
