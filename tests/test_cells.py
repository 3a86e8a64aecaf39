"""Cells against equations written out here, and against torch.nn.LSTM/GRU/RNN.

The reference below is deliberately naive (one matrix per gate, no fused layouts, no in-place
ops) and is shared by the dense and conv checks only through the ``lin`` argument.
"""

import pytest
import torch
import torch.nn.functional as F

from seqvision.nets import recurrent
from seqvision.nets.cells import CELLS, resolve_cell
from seqvision.nets.conv_recurrent import ConvRecurrentCell, ConvRecurrentLayer
from seqvision.nets.recurrent import RecurrentCell, RecurrentStack




torch.manual_seed(0)
DT = torch.float64
LSTM_FAMILY = [c for c in CELLS if c not in ("gru", "rnn")]
# Which gates each variant has (parameter blocks), written out independently of the code.
GATES = {"lstm": "ifog", "vanilla": "ifog", "nig": "fog", "nfg": "iog", "nog": "ifg", "niaf": "ifog",
         "noaf": "ifog", "cifg": "iog", "fgr": "ifog", "gru": "rzn", "rnn": "h"}
PEEPHOLES = {"lstm": False, "gru": False, "rnn": False}  # default True for the rest


def split(t, names, dim=0):
    return dict(zip(names, t.chunk(len(names), dim=dim)))


def reference_step(name, x, state, W, R, b, P, Rq, lin, b_hn=None):
    """One step of ``name`` from its equations. W, R, b, P: dicts of per-gate tensors; lin(w, v)
    applies a weight (matmul or conv); P holds peepholes (Hadamard)."""
    sig, tanh = torch.sigmoid, torch.tanh
    if name == "rnn":
        return (tanh(lin(W["h"], x) + lin(R["h"], state[0]) + b["h"]),)
    if name == "gru":
        h = state[0]
        r = sig(lin(W["r"], x) + b["r"] + lin(R["r"], h))
        z = sig(lin(W["z"], x) + b["z"] + lin(R["z"], h))
        n = tanh(lin(W["n"], x) + b["n"] + r * (lin(R["n"], h) + b_hn))
        return ((1 - z) * n + z * h,)
    h, c = state[0], state[1]

    def pre(gate, peep_c):
        a = lin(W[gate], x) + lin(R[gate], h) + b[gate]
        if name == "fgr" and gate != "g":  # R_{gate,i} i' + R_{gate,f} f' + R_{gate,o} o'
            a = a + sum(lin(Rq[gate][src], state[2 + k]) for k, src in enumerate("ifo"))
        if gate in P:
            a = a + P[gate] * peep_c
        return a

    i = 1.0 if name == "nig" else sig(pre("i", c))
    f = 1.0 if name == "nfg" else (1 - i if name == "cifg" else sig(pre("f", c)))
    g = pre("g", None) if name == "niaf" else tanh(pre("g", None))
    c_new = f * c + i * g
    o = 1.0 if name == "nog" else sig(pre("o", c_new))
    h_new = o * c_new if name == "noaf" else o * tanh(c_new)
    if name == "fgr":
        return (h_new, c_new, i, f, o)
    return (h_new, c_new)


def params_of(cell, name, conv=False):
    """Per-gate views of a cell's fused parameters (layout = ``cell.gates``)."""
    gates = "".join(cell.gates)
    assert gates == GATES[name]
    if conv:
        W, R, b = cell.conv_x.weight, cell.conv_h.weight, cell.conv_x.bias
        gg = cell.conv_q.weight if cell.conv_q is not None else None
    else:
        W, R, b, gg = cell.weight_ih, cell.weight_hh, cell.bias, cell.weight_gg
    W, R, b = split(W, gates), split(R, gates), split(b, gates)
    if conv:
        b = {k: v.view(1, -1, 1, 1) for k, v in b.items()}
    P = {}
    if cell.peephole is not None:
        assert PEEPHOLES.get(name, True)
        peep_gates = [g for g in gates if g in "if"] + (["o"] if "o" in gates else [])
        P = dict(zip(peep_gates, cell.peephole.unbind(0)))
    else:
        assert not PEEPHOLES.get(name, True)
    Rq = None
    if gg is not None:  # rows: target gate i, f, o; columns: source gate i, f, o
        Rq = {tg: split(rows, "ifo", dim=1) for tg, rows in split(gg, "ifo").items()}
    b_hn = cell.bias_hn
    return W, R, b, P, Rq, b_hn


def dense_lin(w, v):
    return v @ w.t()


def rollout(name, cell, xs, state, conv=False):
    W, R, b, P, Rq, b_hn = params_of(cell, name, conv)
    lin = (lambda w, v: F.conv2d(v, w, padding=w.shape[-1] // 2)) if conv else dense_lin
    H = state[0].shape[1]
    if name == "fgr":  # the code keeps q = [i; f; o] as one tensor
        state = (state[0], state[1], *state[2].split(H, dim=1))
    outs = []
    for x in xs.unbind(1):
        state = reference_step(name, x, state, W, R, b, P, Rq, lin, b_hn)
        outs.append(state[0])
    if name == "fgr":
        state = (state[0], state[1], torch.cat(state[2:], dim=1))
    return torch.stack(outs, 1), state


def random_state(cell, batch, ref, *size):
    st = cell.init_state(batch, ref, *size) if size else cell.init_state(batch, ref)
    return tuple((torch.rand_like(s) if len(st) == 3 and k == 2 else torch.randn_like(s)).requires_grad_()
                 for k, s in enumerate(st))


@pytest.mark.parametrize("name", CELLS)
def test_dense_cell_matches_equations_and_gradients(name):
    cell = RecurrentCell(5, 4, name).to(DT)
    x = torch.randn(3, 6, 5, dtype=DT, requires_grad=True)
    state = random_state(cell, 3, x)
    ref, ref_state = rollout(name, cell, x, state)
    # single step (autograd path)
    h1, _ = cell.step(x[:, 0], state)
    torch.testing.assert_close(h1, ref[:, 0])
    # whole sequence (hand-written BPTT for the LSTM family)
    out, fin = cell(x, state)
    torch.testing.assert_close(out, ref)
    for a, b in zip(fin, ref_state):
        torch.testing.assert_close(a, b)
    w = [torch.randn_like(t) for t in (out, *fin)]
    loss = lambda o, s: sum((t * v).sum() for t, v in zip((o, *s), w))  # noqa: E731
    inputs = [x, *state, *cell.parameters()]
    g_code = torch.autograd.grad(loss(out, fin), inputs)
    g_ref = torch.autograd.grad(loss(ref, ref_state), inputs)
    for a, b in zip(g_code, g_ref):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", ["vanilla", "cifg", "fgr"])
def test_peephole_override(name):
    assert RecurrentCell(3, 2, name, peephole=False).peephole is None
    assert RecurrentCell(3, 2, "lstm", peephole=True).peephole.shape == (3, 2)
    assert RecurrentCell(3, 2, "cifg").peephole.shape == (2, 2)  # i and o; f = 1 - i has none
    with pytest.raises(ValueError, match="no cell state"):
        RecurrentCell(3, 2, "gru", peephole=True)


def copy_from_torch(ours, theirs, name, layers, dirs):
    """Copy nn.LSTM/GRU/RNN weights into a RecurrentStack of our own cells; returns a grad mapper."""
    H = theirs.hidden_size
    perm = torch.cat([torch.arange(0, 2 * H), torch.arange(3 * H, 4 * H), torch.arange(2 * H, 3 * H)]) \
        if name == "lstm" else torch.arange(theirs.weight_ih_l0.shape[0])  # i,f,g,o -> i,f,o,g
    pairs = []
    for l in range(layers):
        for d in range(dirs):
            sfx = f"_l{l}" + ("_reverse" if d else "")
            cell = ours.layers[l][d]
            w_ih, w_hh = getattr(theirs, "weight_ih" + sfx), getattr(theirs, "weight_hh" + sfx)
            b_ih, b_hh = getattr(theirs, "bias_ih" + sfx), getattr(theirs, "bias_hh" + sfx)
            with torch.no_grad():
                cell.weight_ih.copy_(w_ih[perm])
                cell.weight_hh.copy_(w_hh[perm])
                if name == "gru":
                    cell.bias.copy_(b_ih + torch.cat([b_hh[: 2 * H], torch.zeros(H, dtype=DT)]))
                    cell.bias_hn.copy_(b_hh[2 * H:])
                else:
                    cell.bias.copy_((b_ih + b_hh)[perm])
            pairs += [(cell.weight_ih, w_ih, perm), (cell.weight_hh, w_hh, perm), (cell.bias, b_ih, perm)]
            if name == "gru":
                pairs.append((cell.bias_hn, b_hh, torch.arange(2 * H, 3 * H)))
    return pairs


@pytest.mark.parametrize("name,impl", [("lstm", "bptt"), ("lstm", "autograd"), ("gru", "autograd"), ("rnn", "autograd")])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
def test_matches_torch_rnn(name, impl, layers, bidirectional):
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[name]
    theirs = cls(5, 4, layers, batch_first=True, bidirectional=bidirectional).to(DT)
    ours = RecurrentStack(5, 4, layers, name, bidirectional, impl=impl).to(DT)
    assert ours.torch_rnn is None
    dirs = 2 if bidirectional else 1
    pairs = copy_from_torch(ours, theirs, name, layers, dirs)
    x = torch.randn(3, 7, 5, dtype=DT)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    o1, s1 = ours(x1)
    o2, hn = theirs(x2)
    torch.testing.assert_close(o1, o2)
    h_n = hn[0] if name == "lstm" else hn
    torch.testing.assert_close(torch.stack([s[0] for s in s1]), h_n)
    if name == "lstm":
        torch.testing.assert_close(torch.stack([s[1] for s in s1]), hn[1])
    w = torch.randn_like(o1)
    (o1 * w).sum().backward()
    (o2 * w).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)
    for mine, their, perm in pairs:
        torch.testing.assert_close(mine.grad, their.grad[perm])  # b_ih's grad is bias's grad


def test_library_stack_states_roundtrip():
    stack = RecurrentStack(5, 4, 2, "lstm", bidirectional=True)
    assert stack.impl == "library" and isinstance(stack.torch_rnn, torch.nn.LSTM)
    x = torch.randn(2, 6, 5)
    out, states = stack(x)
    assert out.shape == (2, 6, 8) and len(states) == 4 and states[0][0].shape == (2, 4)
    out_a, st = stack(x[:, :3])
    out_b, _ = RecurrentStack.forward(stack, x[:, 3:], st)
    assert out_b.shape == (2, 3, 8)


@pytest.mark.parametrize("name", ["vanilla", "fgr", "cifg"])
def test_own_stack_carries_state(name):
    """Running a sequence in two halves with the state carried equals one run (one direction)."""
    stack = RecurrentStack(5, 4, 2, name).to(DT)
    x = torch.randn(2, 6, 5, dtype=DT)
    full, _ = stack(x)
    a, st = stack(x[:, :3])
    b, _ = stack(x[:, 3:], st)
    torch.testing.assert_close(torch.cat([a, b], 1), full)


@pytest.mark.parametrize("name,shape", [(n, "position") for n in CELLS] +
                         [(n, "channel") for n in CELLS if n not in ("lstm", "gru", "rnn")])  # only peepholes have a shape
def test_conv_cell_matches_equations(name, shape):
    cell = ConvRecurrentCell(2, 3, 3, name, peephole_shape=shape, spatial_size=(5, 4)).to(DT)
    if cell.peephole is not None:
        assert cell.peephole.shape[1:] == ((3, 5, 4) if shape == "position" else (3, 1, 1))
    xs = torch.randn(2, 3, 2, 5, 4, dtype=DT, requires_grad=True)
    state = random_state(cell, 2, xs, (5, 4))
    ref, ref_state = rollout(name, cell, xs, state, conv=True)
    layer = ConvRecurrentLayer(2, 3, 3, name, peephole_shape=shape, spatial_size=(5, 4)).to(DT)
    layer.cell = cell
    out, fin = layer(xs, state)
    torch.testing.assert_close(out, ref)
    for a, b in zip(fin, ref_state):
        torch.testing.assert_close(a, b)
    g1 = torch.autograd.grad(out.square().sum(), [xs, *cell.parameters()])
    g2 = torch.autograd.grad(ref.square().sum(), [xs, *cell.parameters()])
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b)


def test_conv_layer_still_image_repeats_frame():
    layer = ConvRecurrentLayer(2, 3, 3, "vanilla", spatial_size=(4, 4)).to(DT)
    x = torch.randn(2, 2, 4, 4, dtype=DT)
    a, _ = layer(x, steps=3)
    b, _ = layer(x.unsqueeze(1).expand(-1, 3, -1, -1, -1))
    torch.testing.assert_close(a, b)
    h, st = layer.cell.step(None, _)  # zero input keeps running (encoder-forecaster use)
    assert h.shape == (2, 3, 4, 4)


def test_unknown_cell_lists_valid_names():
    with pytest.raises(ValueError) as e:
        resolve_cell("lstmm")
    for name in CELLS:
        assert name in str(e.value)
    assert resolve_cell("NP") == "lstm"
    with pytest.raises(ValueError, match="valid cells"):
        RecurrentStack(3, 4, 1, "bogus")
    with pytest.raises(ValueError, match="num_layers"):
        RecurrentStack(3, 4, 0, "lstm")


def test_each_impl_is_one_way_of_computing_the_same_sequence():
    assert RecurrentStack(3, 4, 1, "lstm").impl == "library"
    assert RecurrentStack(3, 4, 1, "cifg").impl == "bptt"
    assert RecurrentStack(3, 4, 1, "lstm", peephole=True).impl == "bptt"
    with pytest.raises(ValueError, match="impl=library runs only"):
        RecurrentStack(3, 4, 1, "cifg", impl="library")
    with pytest.raises(ValueError, match="LSTM family"):
        RecurrentStack(3, 4, 1, "gru", impl="bptt")
    with pytest.raises(ValueError, match="valid: auto, library"):
        RecurrentStack(3, 4, 1, "lstm", impl="fused")


def test_compiled_step_matches_the_eager_step(monkeypatch):
    """The ``compiled`` impl traces our step with torch.compile. Inductor's code generation takes
    minutes on a CPU and is torch's to test; the aot_eager backend runs the same tracing and
    autograd graph capture in seconds."""
    monkeypatch.setattr(recurrent, "COMPILE_BACKEND", "aot_eager")
    monkeypatch.setattr(recurrent, "_COMPILED_STEP", None)
    cell = RecurrentCell(5, 4, "vanilla", impl="compiled")
    eager = RecurrentCell(5, 4, "vanilla", impl="autograd")
    eager.load_state_dict(cell.state_dict())
    x = torch.randn(3, 4, 5, requires_grad=True)
    out_c, out_e = cell(x)[0], eager(x)[0]
    torch.testing.assert_close(out_c, out_e, rtol=1e-5, atol=1e-5)
    g_c = torch.autograd.grad(out_c.sum(), cell.weight_hh)[0]
    g_e = torch.autograd.grad(out_e.sum(), eager.weight_hh)[0]
    torch.testing.assert_close(g_c, g_e, rtol=1e-5, atol=1e-5)
