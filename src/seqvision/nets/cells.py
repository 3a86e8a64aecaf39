"""One recurrent cell family, chosen by name, in a dense and a convolutional form.

Why one module: the models (row_rnn, cnn_rnn, convlstm) compare *gating variants*, so a variant
is a config string (``cell: cifg``) and every model accepts every name in ``CELLS``.

Notation (per time step; ``sigma`` is the logistic sigmoid, ``*`` the Hadamard product)::

    vanilla (Greff et al. 2017, "LSTM: A Search Space Odyssey"; peephole LSTM of Gers et al.)
        i = sigma(W_i x + R_i h' + p_i * c' + b_i)          h', c': previous step
        f = sigma(W_f x + R_f h' + p_f * c' + b_f)
        g = tanh (W_g x + R_g h' + b_g)                     block input
        c = f * c' + i * g
        o = sigma(W_o x + R_o h' + p_o * c  + b_o)          output gate peeps at the NEW c
        h = o * tanh(c)

    lstm (alias np)  vanilla without peepholes = torch.nn.LSTM = Greff's NP variant
    nig   no input gate          i = 1
    nfg   no forget gate         f = 1
    nog   no output gate         o = 1
    niaf  no input activation    g = W_g x + R_g h' + b_g
    noaf  no output activation   h = o * c
    cifg  coupled input/forget   f = 1 - i                  (no f weights, no f peephole)
    fgr   full gate recurrence   the i, f, o pre-activations also get  R_q [i'; f'; o']
                                 (previous step's gate activations; one (3H x 3H) matrix
                                 holding Greff's nine R_{ab}; q' = 0 at t = 0)
    gru   (torch.nn.GRU equations)
        r = sigma(W_r x + R_r h' + b_r);  z = sigma(W_z x + R_z h' + b_z)
        n = tanh(W_n x + b_n + r * (R_n h' + b_hn));  h = (1 - z) * n + z * h'
    rnn   h = tanh(W x + R h' + b)

Peepholes: following Greff, nig/nfg/nog/niaf/noaf/cifg/fgr modify the *vanilla* LSTM, so they
keep the peepholes; only ``lstm``/``np`` has none. ``peephole=True/False`` overrides this for any
LSTM-family cell (a removed gate has no peephole). The convolutional form (ConvLSTM, Shi et al.
2015) uses per-position peephole weights of shape (C, H, W) as in the paper
(``peephole_shape="position"``, needs the spatial size), or per-channel (C, 1, 1) weights
(``peephole_shape="channel"``, size-agnostic).

Parameter layout: one fused matrix per source. LSTM-family gate blocks are ordered as the
active gates among ``(i, f, o, g)`` (``RecurrentCell.gates``): all sigmoid gates are contiguous,
so one sigmoid call covers them. GRU blocks are torch's ``(r, z, n)``. Biases: one ``bias``
(torch's ``b_ih + b_hh``); GRU keeps ``bias_hn`` separate because it sits inside ``r * (...)``.

Speed (dense form): ``lstm``/``gru``/``rnn`` in ``RecurrentStack`` run the fused cuDNN/oneDNN
``nn.LSTM/GRU/RNN``. The other variants run a custom autograd Function with hand-written BPTT
(``_LSTMSequence``): the input projection of all steps is one batched matmul, the forward loop
records no autograd graph and works in place on preallocated feature-major buffers (every gate
block a contiguous ``(H, B)`` tile), the backward loop does one ``addmm_`` per step, and the
weight gradients are one batched matmul over all steps. What remains above ``nn.LSTM`` is the
~7-15 separate elementwise kernels per step (memory passes that oneDNN fuses into one) and, for
``fgr``, its extra 3H x 3H gate recurrence (2.85x the multiply-adds of an LSTM). The optional
``compile=True`` path (an autograd loop over a ``torch.compile``-d step) is slower than this on
CPU. Measured figures: ``benchmarks/RESULTS_cells.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seqvision.errors import InvalidArgument

CELLS = ("lstm", "vanilla", "nig", "nfg", "nog", "niaf", "noaf", "cifg", "fgr", "gru", "rnn")
ALIASES = {"np": "lstm"}
TORCH_FUSED = ("lstm", "gru", "rnn")  # names nn.LSTM / nn.GRU / nn.RNN implement exactly


@dataclass(frozen=True)
class LSTMSpec:
    """Which parts of the vanilla LSTM a variant keeps."""

    gates: tuple[str, ...] = ("i", "f", "o", "g")  # active gate blocks, in parameter order
    peephole: bool = True
    input_act: bool = True  # g = tanh(.)
    output_act: bool = True  # h = o * tanh(c)
    cifg: bool = False  # f = 1 - i
    fgr: bool = False  # gate recurrence from previous i, f, o

    @property
    def prev_peep(self) -> tuple[str, ...]:
        """Gates peeping at the previous cell state c' (i, f when present)."""
        return tuple(g for g in self.gates if g in "if") if self.peephole else ()

    @property
    def peep_gates(self) -> tuple[str, ...]:
        """Rows of the peephole parameter: ``prev_peep`` then ``o`` (which peeps at the new c)."""
        return self.prev_peep + (("o",) if self.peephole and "o" in self.gates else ())

    @property
    def n_sigmoid(self) -> int:
        return len(self.gates) - 1


LSTM_SPECS = {
    "lstm": LSTMSpec(peephole=False),
    "vanilla": LSTMSpec(),
    "nig": LSTMSpec(gates=("f", "o", "g")),
    "nfg": LSTMSpec(gates=("i", "o", "g")),
    "nog": LSTMSpec(gates=("i", "f", "g")),
    "niaf": LSTMSpec(input_act=False),
    "noaf": LSTMSpec(output_act=False),
    "cifg": LSTMSpec(gates=("i", "o", "g"), cifg=True),
    "fgr": LSTMSpec(fgr=True),
}


def resolve_cell(cell: str) -> str:
    """Canonical cell name; a clear ``ValueError`` for unknown names."""
    name = ALIASES.get(str(cell).lower(), str(cell).lower())
    if name not in CELLS:
        raise InvalidArgument(
            f"unknown cell {cell!r}; valid cells: {', '.join(CELLS)} (aliases: "
            f"{', '.join(f'{a}={b}' for a, b in ALIASES.items())}). Example: cell: lstm")
    return name


def lstm_spec(cell: str, peephole: bool | None = None) -> LSTMSpec | None:
    """The LSTMSpec of a name (None for gru/rnn), with an optional peephole override."""
    name = resolve_cell(cell)
    if name not in LSTM_SPECS:
        if peephole:
            raise InvalidArgument(f"cell {name!r} has no cell state, so peephole=True is invalid; "
                             f"use an LSTM-family cell (e.g. cell: vanilla) or peephole: null")
        return None
    spec = LSTM_SPECS[name]
    if peephole is not None and peephole != spec.peephole:
        spec = LSTMSpec(spec.gates, bool(peephole), spec.input_act, spec.output_act, spec.cifg, spec.fgr)
    return spec


# ----------------------------------------------------------------------------------------------
# Gating math shared by the dense and the conv form (channel axis = dim 1). Reference path:
# plain autograd, used by ``step()``, the conv layers, the compile path, and as test oracle.
# ----------------------------------------------------------------------------------------------

def lstm_gating(spec: LSTMSpec, a: torch.Tensor, c_prev: torch.Tensor,
                peephole: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """LSTM-family update from pre-activations ``a`` (all non-peephole terms already summed).

    Returns ``(h, c, q)``; ``q = [i; f; o]`` (gate activations, for fgr) or None.
    """
    hidden = c_prev.shape[1]
    pre = dict(zip(spec.gates, a.split(hidden, dim=1)))
    peep = dict(zip(spec.peep_gates, peephole.unbind(0))) if spec.peephole else {}

    def gate(name: str, c: torch.Tensor) -> torch.Tensor:
        z = pre[name] + peep[name] * c if name in peep else pre[name]
        return torch.sigmoid(z)

    i = gate("i", c_prev) if "i" in pre else None
    f = 1 - i if spec.cifg else (gate("f", c_prev) if "f" in pre else None)
    g = torch.tanh(pre["g"]) if spec.input_act else pre["g"]
    c = (c_prev if f is None else f * c_prev) + (g if i is None else i * g)
    o = gate("o", c) if "o" in pre else None
    y = torch.tanh(c) if spec.output_act else c
    h = y if o is None else o * y
    q = torch.cat([i, f, o], dim=1) if spec.fgr else None
    return h, c, q


def gru_gating(xp: torch.Tensor, hp: torch.Tensor, h_prev: torch.Tensor, bias_hn: torch.Tensor) -> torch.Tensor:
    """GRU update from input projection ``xp`` and recurrent projection ``hp`` (both r, z, n)."""
    xr, xz, xn = xp.chunk(3, dim=1)
    hr, hz, hn = hp.chunk(3, dim=1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * (hn + bias_hn))
    return torch.lerp(n, h_prev, z)  # (1 - z) * n + z * h'


def _dense_step(spec: LSTMSpec | None, xp: torch.Tensor, state: tuple[torch.Tensor, ...],
                w_hh: torch.Tensor, w_gg: torch.Tensor | None, peep: torch.Tensor | None,
                bias_hn: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
    """One dense step from the input projection; a pure function so torch.compile can take it."""
    h = state[0]
    if spec is None and bias_hn is not None:  # gru
        return (gru_gating(xp, F.linear(h, w_hh), h, bias_hn),)
    a = torch.addmm(xp, h, w_hh.t())
    if spec is None:  # rnn
        return (torch.tanh(a),)
    if spec.fgr:
        n = 3 * h.shape[1]
        a = torch.cat([torch.addmm(a[:, :n], state[2], w_gg.t()), a[:, n:]], dim=1)
    h, c, q = lstm_gating(spec, a, state[1], peep)
    return (h, c, q) if spec.fgr else (h, c)


_COMPILED_STEP = None


def _compiled_dense_step():
    global _COMPILED_STEP
    if _COMPILED_STEP is None:
        _COMPILED_STEP = torch.compile(_dense_step, dynamic=False)
    return _COMPILED_STEP


# ----------------------------------------------------------------------------------------------
# Fast sequence path for the LSTM family: hand-written BPTT in one autograd Function.
# ----------------------------------------------------------------------------------------------

_sigmoid_bwd_ = torch.ops.aten.sigmoid_backward.grad_input  # (grad, output, grad_input=out)
_tanh_bwd = torch.ops.aten.tanh_backward  # grad * (1 - output**2) in one kernel
_tanh_bwd_ = torch.ops.aten.tanh_backward.grad_input


class _LSTMSequence(torch.autograd.Function):
    """Input projection + recurrence of an LSTM-family cell, feature-major: ``x (T, I, B)``.

    Feature-major (each step's pre-activations are ``(G*H, B)``) makes every gate block a
    contiguous ``(H, B)`` tensor: strided views fall off the vectorized kernels (``tanh`` on a
    column slice of a ``(B, 4H)`` matrix is ~5x slower on CPU). Forward: the input projection of
    all steps is one ``baddbmm`` straight into the activation buffer, then per step one in-place
    ``addmm_`` (+ one for fgr) and in-place activations; no autograd graph, no per-step
    allocation. Backward: per step elementwise gradient ops and one ``addmm_`` that adds R^T dA
    into the (cloned) incoming gradient of h'; the gradients of W, R, R_q, b and the peepholes
    are single reductions over all steps afterwards. States are ``(H, B)``. Not twice
    differentiable.
    """

    @staticmethod
    def forward(ctx, x, w_ih, bias, h0, c0, q0, w_hh, w_gg, peep, spec: LSTMSpec):
        T, _, B = x.shape
        G, H = w_hh.shape
        k, S = len(spec.prev_peep), spec.n_sigmoid
        has_i, has_f, has_o = "i" in spec.gates, "f" in spec.gates, "o" in spec.gates
        op = spec.peephole and has_o
        acts = torch.baddbmm(bias.view(1, G, 1), w_ih.expand(T, G, -1), x)  # pre-activations -> activations
        out = x.new_empty(T, H, B)
        cs = x.new_empty(T + 1, H, B)
        cs[0] = c0
        ys = x.new_empty(T, H, B) if spec.output_act else cs[1:]
        # Per-step views, made by a few C++ calls instead of slicing inside the loop.
        a_t, out_t, c_t, y_t = acts.unbind(0), out.unbind(0), cs.unbind(0), ys.unbind(0)
        sig_t, g_t = acts[:, : S * H].unbind(0), acts[:, S * H:].unbind(0)
        i_t = acts[:, :H].unbind(0) if has_i else None
        fo = H if has_i else 0
        f_t = acts[:, fo: fo + H].unbind(0) if has_f else None
        o_t = acts[:, (S - 1) * H: S * H].unbind(0) if has_o else None
        # with prev-peepholes, i/f are activated before o (which peeps at the new c)
        pif_t = acts[:, : k * H].unflatten(1, (k, H)).unbind(0) if k else sig_t
        p_if = peep[:k].unsqueeze(-1) if k else None  # (k, H, 1)
        p_o = peep[k].unsqueeze(-1) if op else None  # (H, 1)
        h_prev, q_prev = h0, q0
        for t in range(T):
            a_t[t].addmm_(w_hh, h_prev)
            if spec.fgr:
                sig_t[t].addmm_(w_gg, q_prev)
                q_prev = sig_t[t]
            if k:
                pif_t[t].addcmul_(p_if, c_t[t])
            pif_t[t].sigmoid_()
            if spec.input_act:
                g_t[t].tanh_()
            c_prev, c, g = c_t[t], c_t[t + 1], g_t[t]
            if spec.cifg:
                torch.lerp(c_prev, g, i_t[t], out=c)
            elif has_i and has_f:
                torch.mul(f_t[t], c_prev, out=c).addcmul_(i_t[t], g)
            elif has_f:  # nig
                torch.mul(f_t[t], c_prev, out=c).add_(g)
            else:  # nfg
                torch.addcmul(c_prev, i_t[t], g, out=c)
            if op:
                o_t[t].addcmul_(p_o, c).sigmoid_()
            y = torch.tanh(c, out=y_t[t]) if spec.output_act else c
            if has_o:
                torch.mul(o_t[t], y, out=out_t[t])
            else:
                out_t[t].copy_(y)
            h_prev = out_t[t]
        ctx.spec, ctx.acts, ctx.cs, ctx.ys = spec, acts, cs, ys
        ctx.save_for_backward(x, w_ih, h0, q0, w_hh, w_gg, peep, out)
        q_last = acts[-1, : 3 * H].clone() if spec.fgr else x.new_empty(0)
        if not spec.fgr:
            ctx.mark_non_differentiable(q_last)
        return out, cs[-1].clone(), q_last

    @staticmethod
    def backward(ctx, g_out, g_c, g_q):
        spec, acts, cs, ys = ctx.spec, ctx.acts, ctx.cs, ctx.ys
        x, w_ih, h0, q0, w_hh, w_gg, peep, out = ctx.saved_tensors
        T, G, B = acts.shape
        H = h0.shape[0]
        k, S = len(spec.prev_peep), spec.n_sigmoid
        has_i, has_f, has_o = "i" in spec.gates, "f" in spec.gates, "o" in spec.gates
        op = spec.peephole and has_o
        dA = torch.empty_like(acts)  # gradients w.r.t. pre-activations
        # dh_t = g_out[t] + R^T dA_{t+1}: accumulate in place into a private copy of g_out
        dh_buf = torch.zeros_like(out) if g_out is None else g_out.clone(memory_format=torch.contiguous_format)
        d_t, dh_t, c_t, y_t = dA.unbind(0), dh_buf.unbind(0), cs.unbind(0), ys.unbind(0)
        dsig_t, dg_t, g_t = dA[:, : S * H].unbind(0), dA[:, S * H:].unbind(0), acts[:, S * H:].unbind(0)
        i_t = acts[:, :H].unbind(0) if has_i else None
        di_t = dA[:, :H].unbind(0) if has_i else None
        fo = H if has_i else 0
        f_t = acts[:, fo: fo + H].unbind(0) if has_f else None
        df_t = dA[:, fo: fo + H].unbind(0) if has_f else None
        o_t = acts[:, (S - 1) * H: S * H].unbind(0) if has_o else None
        do_t = dA[:, (S - 1) * H: S * H].unbind(0) if has_o else None
        # sigmoid gates whose backward is one call once dc is known (all of them without o-peephole)
        nb = k if op else S
        dblk_t, blk_t = dA[:, : nb * H].unbind(0), acts[:, : nb * H].unbind(0)
        dpif_t = dA[:, : k * H].unflatten(1, (k, H)).unbind(0) if k else None
        p_ifs = peep[:k].unsqueeze(-1).unbind(0) if k else ()
        p_o = peep[k].unsqueeze(-1) if op else None
        w_hh_t = w_hh.t()
        w_gg_t = w_gg.t() if spec.fgr else None
        dh0 = torch.zeros_like(h0)
        dc = g_c.clone() if g_c is not None else torch.zeros_like(h0)
        dq = (g_q.clone() if g_q is not None else torch.zeros_like(q0)) if spec.fgr else None
        for t in range(T - 1, -1, -1):
            dh, y, c_prev = dh_t[t], y_t[t], c_t[t]
            if has_o:
                torch.mul(dh, y, out=do_t[t])
                dy = dh * o_t[t]
            else:
                dy = dh
            dc = dc + (_tanh_bwd(dy, y) if spec.output_act else dy)
            if op:
                if spec.fgr:
                    do_t[t].add_(dq[2 * H:])
                _sigmoid_bwd_(do_t[t], o_t[t], grad_input=do_t[t])
                dc.addcmul_(do_t[t], p_o)
            g = g_t[t]
            if spec.cifg:
                torch.mul(dc, g - c_prev, out=di_t[t])
            elif has_i:
                torch.mul(dc, g, out=di_t[t])
            if has_f:
                torch.mul(dc, c_prev, out=df_t[t])
            if spec.input_act:
                _tanh_bwd_(dc * i_t[t] if has_i else dc, g, grad_input=dg_t[t])
            else:
                torch.mul(dc, i_t[t], out=dg_t[t]) if has_i else dg_t[t].copy_(dc)
            if spec.fgr:
                dblk_t[t].add_(dq[: nb * H])
            _sigmoid_bwd_(dblk_t[t], blk_t[t], grad_input=dblk_t[t])
            if spec.cifg:
                dc_new = dc - dc * i_t[t]
            elif has_f:
                dc_new = dc * f_t[t]
            else:
                dc_new = dc
            for j, p in enumerate(p_ifs):
                dc_new.addcmul_(dpif_t[t][j], p)
            dc = dc_new
            (dh_t[t - 1] if t else dh0).addmm_(w_hh_t, d_t[t])
            if spec.fgr:
                dq = torch.mm(w_gg_t, dsig_t[t])
        need = ctx.needs_input_grad
        g_x = g_w_ih = g_b = g_w_hh = g_w_gg = g_peep = None
        if need[0]:
            g_x = torch.matmul(w_ih.t(), dA)
        if need[1]:  # sum_t dA_t x_t^T
            g_w_ih = torch.bmm(dA, x.transpose(1, 2)).sum(0)
        if need[2]:
            g_b = dA.sum((0, 2))
        if need[6]:  # sum_t dA_t h_{t-1}^T
            h_prev = torch.cat([h0.unsqueeze(0), out[:-1]])
            g_w_hh = torch.bmm(dA, h_prev.transpose(1, 2)).sum(0)
        if spec.fgr and need[7]:
            q_prev = torch.cat([q0.unsqueeze(0), acts[:-1, : 3 * H]])
            g_w_gg = torch.bmm(dA[:, : 3 * H], q_prev.transpose(1, 2)).sum(0)
        if spec.peephole and need[8]:
            rows = []
            if k:
                rows.append((dA[:, : k * H].unflatten(1, (k, H)) * cs[:-1].unsqueeze(1)).sum((0, 3)))
            if op:
                rows.append((dA[:, (S - 1) * H: S * H] * cs[1:]).sum((0, 2)).unsqueeze(0))
            g_peep = torch.cat(rows)
        return g_x, g_w_ih, g_b, dh0, dc, dq, g_w_hh, g_w_gg, g_peep, None


def _uniform_(params: Sequence[nn.Parameter], hidden: int) -> None:
    bound = 1.0 / math.sqrt(hidden)
    for p in params:
        nn.init.uniform_(p, -bound, bound)


class RecurrentCell(nn.Module):
    """Dense cell of any name in ``CELLS``: ``step`` for one time step, ``forward`` for a sequence.

    Parameters: ``weight_ih (G*H, I)``, ``weight_hh (G*H, H)``, ``bias (G*H)``, plus
    ``peephole (P, H)`` (rows = ``spec.peep_gates``), ``weight_gg (3H, 3H)`` for fgr and
    ``bias_hn (H)`` for gru. State: ``(h,)`` for gru/rnn, ``(h, c)`` for the LSTM family,
    ``(h, c, q)`` for fgr.
    """

    def __init__(self, input_size: int, hidden_size: int, cell: str = "lstm",
                 peephole: bool | None = None, compile: bool = False):
        super().__init__()
        self.cell = resolve_cell(cell)
        self.spec = lstm_spec(self.cell, peephole)
        self.input_size, self.hidden_size, self.compile = input_size, hidden_size, compile
        self.gates = self.spec.gates if self.spec else (("r", "z", "n") if self.cell == "gru" else ("h",))
        G, H = len(self.gates), hidden_size
        self.weight_ih = nn.Parameter(torch.empty(G * H, input_size))
        self.weight_hh = nn.Parameter(torch.empty(G * H, H))
        self.bias = nn.Parameter(torch.empty(G * H))
        self.peephole = nn.Parameter(torch.empty(len(self.spec.peep_gates), H)) if self.spec and self.spec.peephole else None
        self.weight_gg = nn.Parameter(torch.empty(3 * H, 3 * H)) if self.spec and self.spec.fgr else None
        self.bias_hn = nn.Parameter(torch.empty(H)) if self.cell == "gru" else None
        _uniform_([p for p in self.parameters()], H)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, cell={self.cell!r}, gates={''.join(self.gates)}"

    def init_state(self, batch: int, ref: torch.Tensor) -> tuple[torch.Tensor, ...]:
        z = ref.new_zeros(batch, self.hidden_size)
        if self.spec is None:
            return (z,)
        return (z, z.clone(), ref.new_zeros(batch, 3 * self.hidden_size)) if self.spec.fgr else (z, z.clone())

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Input projection ``W x + b`` (any leading dims): do it for all steps at once."""
        return F.linear(x, self.weight_ih, self.bias)

    def step(self, x_t: torch.Tensor, state: tuple[torch.Tensor, ...] | None = None,
             projected: bool = False) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """One step (autograd): ``x_t (B, I)`` or its projection ``(B, G*H)`` -> ``(h, state)``."""
        xp = x_t if projected else self.project(x_t)
        state = self.init_state(xp.shape[0], xp) if state is None else tuple(state)
        fn = _compiled_dense_step() if self.compile else _dense_step
        new = fn(self.spec, xp, state, self.weight_hh, self.weight_gg, self.peephole, self.bias_hn)
        return new[0], new

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, ...] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Whole sequence ``(B, T, I)`` -> ``(outputs (B, T, H), final state)``."""
        out, state = self.run_sequence(x.permute(1, 2, 0), state)
        return out.permute(2, 0, 1), state

    def run_sequence(self, x: torch.Tensor, state: tuple[torch.Tensor, ...] | None = None
                     ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Feature-major sequence ``(T, I, B)`` -> ``((T, H, B), state)``; states stay ``(B, ...)``.

        LSTM-family cells (without ``compile``) take the hand-written-BPTT path; the input
        projection of all steps is one batched matmul. Others loop over autograd ``step``.
        """
        T, _, B = x.shape
        state = self.init_state(B, x) if state is None else tuple(state)
        if self.spec is not None and not self.compile:
            return self._run_fused(x, state)
        xp = self.project(x.transpose(1, 2))  # (T, B, G*H)
        outs = []
        for t in range(T):
            h, state = self.step(xp[t], state, projected=True)
            outs.append(h)
        return torch.stack(outs).transpose(1, 2), state

    def _run_fused(self, x, state):
        h0, c0 = state[0].t(), state[1].t()
        q0 = state[2].t() if self.spec.fgr else h0.new_zeros(0)
        params = (self.weight_hh, self.weight_gg, self.peephole)
        if torch.is_autocast_enabled(x.device.type):  # the preallocated buffers need one dtype
            dt = self.weight_hh.dtype
            with torch.autocast(x.device.type, enabled=False):
                out, c, q = _LSTMSequence.apply(x.to(dt), self.weight_ih, self.bias, h0.to(dt), c0.to(dt),
                                                q0.to(dt), *params, self.spec)
        else:
            out, c, q = _LSTMSequence.apply(x, self.weight_ih, self.bias, h0, c0, q0, *params, self.spec)
        h = out[-1].t()
        return out, ((h, c.t(), q.t()) if self.spec.fgr else (h, c.t()))


class RecurrentStack(nn.Module):
    """Multi-layer (optionally bidirectional) recurrent net over ``(B, T, F)``.

    ``forward(x, states=None) -> (out (B, T, H * dirs), states)``; ``states`` is a list with one
    state tuple per (layer, direction), layer-major as in torch. Dropout acts between layers.
    ``fused=True`` runs lstm/gru/rnn with ``nn.LSTM/GRU/RNN``; ``fused=False`` uses this module's
    own cells for every name (tests, benchmarks). ``compile=True`` runs LSTM-family variants as a
    loop over a ``torch.compile``-d step instead of the hand-written BPTT. Own cells keep the
    activations feature-major ``(T, F, B)`` between layers; the returned ``out`` is a view.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, cell: str = "lstm",
                 bidirectional: bool = False, dropout: float = 0.0, peephole: bool | None = None,
                 fused: bool = True, compile: bool = False):
        super().__init__()
        if num_layers < 1:
            raise InvalidArgument(f"num_layers must be >= 1, got {num_layers}; example: num_layers: 1")
        self.cell = resolve_cell(cell)
        self.num_layers, self.hidden_size, self.dropout = num_layers, hidden_size, dropout
        self.dirs = 2 if bidirectional else 1
        self.torch_rnn = None
        if fused and self.cell in TORCH_FUSED and not peephole:
            cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[self.cell]
            self.torch_rnn = cls(input_size, hidden_size, num_layers, batch_first=True,
                                 dropout=dropout if num_layers > 1 else 0.0, bidirectional=bidirectional)
        else:
            self.layers = nn.ModuleList(
                nn.ModuleList(RecurrentCell(input_size if l == 0 else hidden_size * self.dirs, hidden_size,
                                            self.cell, peephole, compile) for _ in range(self.dirs))
                for l in range(num_layers))

    @property
    def output_size(self) -> int:
        return self.hidden_size * self.dirs

    def forward(self, x: torch.Tensor, states: list[tuple[torch.Tensor, ...]] | None = None):
        if self.torch_rnn is not None:
            return self._forward_torch(x, states)
        seq = x.permute(1, 2, 0)  # (T, F, B)
        finals = []
        for l, cells in enumerate(self.layers):
            if l and self.dropout and self.training:
                seq = F.dropout(seq, self.dropout, True)
            outs = []
            for d, cell in enumerate(cells):
                s = states[l * self.dirs + d] if states is not None else None
                o, s = cell.run_sequence(seq if d == 0 else seq.flip(0), s)
                outs.append(o if d == 0 else o.flip(0))
                finals.append(s)
            seq = outs[0] if self.dirs == 1 else torch.cat(outs, dim=1)
        return seq.permute(2, 0, 1), finals

    def _forward_torch(self, x, states):
        hx = None
        if states is not None:
            hs = [torch.stack([s[j] for s in states]) for j in range(len(states[0]))]
            hx = (hs[0], hs[1]) if self.cell == "lstm" else hs[0]
        out, hn = self.torch_rnn(x, hx)
        parts = hn if self.cell == "lstm" else (hn,)
        return out, [tuple(p[j] for p in parts) for j in range(parts[0].shape[0])]


# ----------------------------------------------------------------------------------------------
# Convolutional form (ConvLSTM, Shi et al. 2015, generalized to every cell name).
# ----------------------------------------------------------------------------------------------

class ConvRecurrentCell(nn.Module):
    """Conv cell: the dense equations with ``W x`` -> ``conv(W, x)`` and ``R h'`` -> ``conv(R, h')``.

    fgr's gate recurrence is a conv over the previous gate maps (3C -> 3C). Peepholes are
    Hadamard products with ``(C, H, W)`` weights (paper) or ``(C, 1, 1)`` (``peephole_shape=
    "channel"``). Use ``project`` once for all frames, then ``step(xp_t, state, projected=True)``;
    an encoder-forecaster can drive ``step`` directly (zero input: pass ``xp_t=None``).
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3, cell: str = "vanilla",
                 peephole: bool | None = None, peephole_shape: str = "position",
                 spatial_size: Sequence[int] | None = None):
        super().__init__()
        if kernel_size % 2 == 0 or kernel_size < 1:
            raise InvalidArgument(f"kernel_size must be odd (same padding), got {kernel_size}; example: kernel_size: 3")
        if peephole_shape not in ("position", "channel"):
            raise InvalidArgument(f"peephole_shape must be 'position' or 'channel', got {peephole_shape!r}")
        self.cell = resolve_cell(cell)
        self.spec = lstm_spec(self.cell, peephole)
        self.gates = self.spec.gates if self.spec else (("r", "z", "n") if self.cell == "gru" else ("h",))
        G, C, pad = len(self.gates), hidden_channels, kernel_size // 2
        self.hidden_channels = C
        self.conv_x = nn.Conv2d(in_channels, G * C, kernel_size, padding=pad)
        self.conv_h = nn.Conv2d(C, G * C, kernel_size, padding=pad, bias=False)
        self.conv_q = nn.Conv2d(3 * C, 3 * C, kernel_size, padding=pad, bias=False) if self.spec and self.spec.fgr else None
        self.bias_hn = nn.Parameter(torch.zeros(C, 1, 1)) if self.cell == "gru" else None
        self.peephole = None
        if self.spec and self.spec.peephole:
            if peephole_shape == "position":
                if spatial_size is None:
                    raise InvalidArgument("per-position peepholes need spatial_size=(H, W); pass it or use "
                                     "peephole_shape: channel")
                shape = (C, int(spatial_size[0]), int(spatial_size[1]))
            else:
                shape = (C, 1, 1)
            self.peephole = nn.Parameter(torch.empty(len(self.spec.peep_gates), *shape))
            _uniform_([self.peephole], C)

    def init_state(self, batch: int, ref: torch.Tensor, size: Sequence[int]) -> tuple[torch.Tensor, ...]:
        z = ref.new_zeros(batch, self.hidden_channels, *size)
        if self.spec is None:
            return (z,)
        return (z, z.clone(), ref.new_zeros(batch, 3 * self.hidden_channels, *size)) if self.spec.fgr else (z, z.clone())

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Input convolution of ``(N, C, H, W)`` or all frames of ``(B, T, C, H, W)`` in one call."""
        if x.dim() == 5:
            return self.conv_x(x.flatten(0, 1)).unflatten(0, x.shape[:2])
        return self.conv_x(x)

    def step(self, x_t: torch.Tensor | None, state: tuple[torch.Tensor, ...] | None = None,
             projected: bool = False) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """One step: frame ``(B, C_in, H, W)`` or its projection; ``x_t=None`` means zero input."""
        if state is None:
            if x_t is None:
                raise ValueError("step(None, state) needs a state to take the batch and size from")
            state = self.init_state(x_t.shape[0], x_t, x_t.shape[-2:])
        h = state[0]
        if x_t is None:  # zero frame: only the input bias remains
            xp = self.conv_x.bias.view(1, -1, 1, 1)
        else:
            xp = x_t if projected else self.conv_x(x_t)
        hp = self.conv_h(h)
        if self.cell == "gru":
            h = gru_gating(xp, hp, h, self.bias_hn)
            return h, (h,)
        a = xp + hp
        if self.spec is None:
            h = torch.tanh(a)
            return h, (h,)
        if self.spec.fgr:
            n = 3 * self.hidden_channels
            a = torch.cat([a[:, :n] + self.conv_q(state[2]), a[:, n:]], dim=1)
        h, c, q = lstm_gating(self.spec, a, state[1], self.peephole)
        new = (h, c, q) if self.spec.fgr else (h, c)
        return h, new


class ConvRecurrentLayer(nn.Module):
    """A ConvRecurrentCell run over a whole sequence.

    ``forward(x)``: ``x (B, T, C, H, W)`` -> ``(out (B, T, C_h, H, W), state)``; or a still
    ``x (B, C, H, W)`` with ``steps=n``: the same frame shown n times, projected only once.
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3, cell: str = "vanilla",
                 peephole: bool | None = None, peephole_shape: str = "position",
                 spatial_size: Sequence[int] | None = None):
        super().__init__()
        self.cell = ConvRecurrentCell(in_channels, hidden_channels, kernel_size, cell, peephole,
                                      peephole_shape, spatial_size)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, ...] | None = None, steps: int | None = None):
        xp = self.cell.project(x)
        if x.dim() == 4:
            if steps is None:
                raise ValueError("a 4-D (B, C, H, W) input needs steps=n (number of recurrent steps)")
            frames = [xp] * steps
        else:
            frames = xp.unbind(1)
        outs = []
        for xp_t in frames:
            h, state = self.cell.step(xp_t, state or self.cell.init_state(xp_t.shape[0], xp_t, xp_t.shape[-2:]),
                                      projected=True)
            outs.append(h)
        return torch.stack(outs, dim=1), state
