"""The Moving MNIST generator obeys the motion rules of Srivastava et al. (2015)."""

import math

import torch

from seqvision.data.moving_digits import MovingDigits, draw_motion, reflect, render


def _motion(n=200, frames=40, image=64, digit=28, speed=3.6, seed=0):
    return draw_motion(n, 2, frames, 10, image, digit, speed, torch.Generator().manual_seed(seed))


def test_digits_stay_inside_the_canvas():
    spec = _motion()
    assert spec.pos.min() >= 0 and spec.pos.max() <= 64 - 28


def test_digits_move_at_fixed_speed_and_bounce_at_the_edges():
    speed, extent = 3.6, 36
    spec = _motion(speed=speed, frames=60)
    step = spec.pos[..., 1:, :] - spec.pos[..., :-1, :]
    # integer positions of a constant-speed motion: each axis moves at most speed + 1 px per frame
    assert step.abs().max() <= math.ceil(speed) + 1
    # a reversal of direction happens only next to a wall
    sign = torch.sign(step.float())
    prev, nxt = sign[..., :-1, :], sign[..., 1:, :]
    flipped = (prev * nxt) < 0
    at = spec.pos[..., 1:-1, :][flipped]
    assert flipped.any(), "60 frames at 3.6 px must bounce at least once"
    assert ((at <= speed + 1) | (at >= extent - speed - 1)).all()


def test_reflect_is_a_mirror_at_both_walls():
    p = torch.tensor([-2.0, 0.0, 5.0, 10.0, 12.0, 20.0, 22.0])
    assert reflect(p, 10.0).tolist() == [2.0, 0.0, 5.0, 10.0, 8.0, 0.0, 2.0]


def test_render_keeps_each_digit_whole_and_merges_by_max():
    bank = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    one = MovingDigits(bank, None, 8, 1, 12, 64, 5.0, seed=1)
    frames = one[torch.arange(8)]
    assert frames.shape == (8, 12, 1, 64, 64) and frames.dtype == torch.uint8
    digit_mass = bank[one.spec().digit[:, 0]].long().sum(dim=(1, 2))
    assert torch.equal(frames.long().sum(dim=(2, 3, 4)), digit_mass[:, None].expand(8, 12))
    two = MovingDigits(bank, None, 8, 2, 12, 64, 5.0, seed=1)
    spec = two.spec()
    idx = torch.arange(8)
    from seqvision.data.moving_digits import MotionSpec

    a = render(bank, MotionSpec(spec.digit[:, :1], spec.pos[:, :1]), idx, 64)
    b = render(bank, MotionSpec(spec.digit[:, 1:], spec.pos[:, 1:]), idx, 64)
    assert torch.equal(two[idx], torch.maximum(a, b))


def test_fixed_splits_do_not_depend_on_batching_and_train_redraws_each_epoch():
    bank = torch.randint(0, 256, (50, 28, 28), dtype=torch.uint8)
    a = MovingDigits(bank, None, 20, 2, 20, 64, 3.6, seed=7)
    b = MovingDigits(bank, None, 20, 2, 20, 64, 3.6, seed=7)
    whole = a[torch.arange(20)]
    parts = torch.cat([b[torch.arange(0, 7)], b[torch.arange(7, 20)]])
    assert torch.equal(whole, parts)
    assert not torch.equal(whole, MovingDigits(bank, None, 20, 2, 20, 64, 3.6, seed=8)[torch.arange(20)])
    epoch = [0]
    train = MovingDigits(bank, None, 20, 2, 20, 64, 3.6, seed=7, epoch_fn=lambda: epoch[0])
    first = train[torch.arange(20)]
    epoch[0] = 1
    assert not torch.equal(first, train[torch.arange(20)])
    epoch[0] = 0
    assert torch.equal(first, train[torch.arange(20)])  # a resumed epoch sees the same draw
