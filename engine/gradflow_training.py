"""Gradient flow during training: several configurations trained side by side as one job.

:class:`FlowTraining` is an :mod:`engine.jobs` task: each step advances every configuration
by one minibatch (the trainer's ``record_grad_norms`` keeps per-step per-layer ‖∂L/∂W_l‖ and
‖∂L/∂a_l‖ for the layer x step heatmap). The page plots the per-step minibatch loss, so the
trainers skip whole-dataset evaluations (``eval_every=0``): with large minibatches an epoch is
one or two steps and evaluating all the data after each would cost about as much again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.datasets import DATASETS
from engine.gradflow_presets import DataSpec, FlowConfig
from engine.trainer import Config, Trainer


def train_config(cfg: FlowConfig, spec: DataSpec, steps: int, optimizer: str, lr: float):
    """The :class:`engine.trainer.Config` that trains ``cfg`` for (at least) ``steps`` steps."""
    n = max(DATASETS[spec.dataset].n_samples, math.ceil(spec.batch / 0.7) + 1)
    per_epoch = math.ceil(round(n * 0.7) / spec.batch)
    return Config(
        dataset=spec.dataset, n_samples=n, data_seed=spec.seed,
        hidden=(cfg.width,) * (cfg.depth - 1),
        activation=cfg.activation, init=cfg.init, init_scale=cfg.scale, residual=cfg.residual,
        optimizer=optimizer, hparams={"lr": lr}, grad_clip=cfg.clip or None,
        epochs=max(1, math.ceil(steps / per_epoch)), batch_size=spec.batch, seed=spec.seed,
        record_grad_norms=True, eval_every=0,
    )  # fmt: skip


@dataclass(frozen=True)
class TrainingView:
    """What :meth:`FlowTraining.publish` returns: labels and one History per configuration."""

    labels: tuple[str, ...]
    histories: tuple
    steps: int


class FlowTraining:
    """Train several configurations in lockstep for exactly ``steps`` steps (a job task).

    ``publish()`` returns a :class:`TrainingView`; a configuration that diverges stops alone
    (its heatmap row ends there) and the others go on.
    """

    def __init__(self, configs, spec: DataSpec, steps: int, optimizer: str = "sgd", lr=0.05):
        self.labels = tuple(c.label() for c in configs)
        first = Trainer(train_config(configs[0], spec, steps, optimizer, lr))
        self.trainers = [first] + [
            Trainer(train_config(c, spec, steps, optimizer, lr), dataset=first.data)
            for c in configs[1:]
        ]
        self.steps = int(steps)
        self.total_steps = self.steps  # of ONE configuration: they advance in lockstep

    def _left(self, t: Trainer) -> bool:
        return not t.done and t.steps_done < self.steps

    @property
    def steps_done(self) -> int:
        """Steps of one configuration (the slowest still training), not summed over them."""
        running = [t.steps_done for t in self.trainers if self._left(t)]
        return min(running) if running else self.steps

    @property
    def epoch(self) -> int:
        return max(t.epoch for t in self.trainers)

    @property
    def done(self) -> bool:
        return not any(self._left(t) for t in self.trainers)

    @property
    def divergence(self) -> str | None:
        msgs = [t.divergence for t in self.trainers]
        return "; ".join(msgs) if all(msgs) else None

    def step(self) -> None:
        for t in self.trainers:
            if self._left(t):
                t.step()

    def publish(self) -> TrainingView:
        return TrainingView(self.labels, tuple(t.publish() for t in self.trainers), self.steps)
