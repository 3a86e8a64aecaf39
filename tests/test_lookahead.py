"""Lookahead averaging: the slow weights move toward the fast ones on airbench's schedule."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from seqvision.callbacks.lookahead import Lookahead


def _setup(every=2, decay=0.5, power=1.0, total=4):
    module = nn.Linear(1, 1, bias=False)
    nn.init.constant_(module.weight, 0.0)
    trainer = SimpleNamespace(global_step=0, estimated_stepping_batches=total)
    cb = Lookahead(every=every, decay=decay, power=power)
    cb.on_train_start(trainer, module)
    return module, trainer, cb


def test_every_k_steps_slow_moves_toward_fast_and_fast_restarts_from_slow():
    module, trainer, cb = _setup()
    for step, fast in [(1, 1.0), (2, 2.0)]:
        module.weight.data.fill_(fast)
        trainer.global_step = step
        cb.on_train_batch_end(trainer, module, None, None, step - 1)
    # step 2 of 4: d = 0.5 * (2 / 4) = 0.25, slow = 0 + 0.75 * (2 - 0) = 1.5
    assert module.weight.item() == 1.5 and cb.slow[0].item() == 1.5
    module.weight.data.fill_(5.0)
    trainer.global_step = 3
    cb.on_train_batch_end(trainer, module, None, None, 2)
    assert module.weight.item() == 5.0  # between pulls the fast weights are left alone
    trainer.global_step = 4
    cb.on_train_batch_end(trainer, module, None, None, 3)
    # the last step: the net takes the slow weights right away, so the last validation, the
    # checkpoint it keeps and the test see them (at on_train_end it would be after all three)
    assert module.weight.item() == 1.5 and cb.slow[0].item() == 1.5
    module.weight.data.fill_(9.0)
    cb.on_train_end(trainer, module)
    assert module.weight.item() == 9.0  # nothing left to pull after the last step


def test_a_run_stopped_early_still_ends_on_the_slow_weights():
    module, trainer, cb = _setup()
    module.weight.data.fill_(2.0)
    trainer.global_step = 2
    cb.on_train_batch_end(trainer, module, None, None, 1)
    module.weight.data.fill_(7.0)
    trainer.global_step = 3  # max_time or early stopping ends the run here, before step 4
    cb.on_train_end(trainer, module)
    assert module.weight.item() == 1.5


def test_the_slow_weights_survive_a_checkpoint():
    module, trainer, cb = _setup()
    module.weight.data.fill_(2.0)
    trainer.global_step = 2
    cb.on_train_batch_end(trainer, module, None, None, 1)
    state = cb.state_dict()
    module2, trainer2, cb2 = _setup()
    cb2.load_state_dict(state)
    cb2.on_train_start(trainer2, module2)
    assert torch.equal(cb2.slow[0], torch.full((1, 1), 1.5))
