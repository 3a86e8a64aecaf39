"""The recurrent cell family: every gate variant by name, its equations and its gating math.

The models (row_rnn, cnn_rnn, convlstm) compare *gating variants*, so a variant is a config
string (``cell: cifg``) and every model accepts every name in ``CELLS``. This module holds what
the dense form (``recurrent.py``) and the convolutional form (``conv_recurrent.py``) share: the
names, which parts of the LSTM each variant keeps, and one step of gating math.

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

How a sequence is computed is the ``impl`` of ``recurrent.RecurrentStack`` (``IMPLS``): the
library kernels of ``nn.LSTM/GRU/RNN`` (cuDNN / oneDNN) where a name is exactly one of them,
the hand-written BPTT of ``lstm_bptt.py`` for the other LSTM-family variants, a plain autograd
loop over ``step`` (the reference the tests compare with), or that loop over a
``torch.compile``-d step. Measured figures: ``benchmarks/results/2026-11-22_cells.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

import torch
from annotated_types import Predicate
from torch import nn

from seqvision.errors import InvalidArgument

CELLS = ("lstm", "vanilla", "nig", "nfg", "nog", "niaf", "noaf", "cifg", "fgr", "gru", "rnn")
ALIASES = {"np": "lstm"}
LIBRARY_CELLS = ("lstm", "gru", "rnn")  # names nn.LSTM / nn.GRU / nn.RNN implement exactly
# How a recurrent stack computes a sequence (see RecurrentStack): auto picks library or bptt.
IMPLS = ("auto", "library", "bptt", "autograd", "compiled")
Impl = Literal["auto", "library", "bptt", "autograd", "compiled"]


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
            f"{', '.join(f'{a}={b}' for a, b in ALIASES.items())}); e.g. cell=lstm")
    return name


def lstm_spec(cell: str, peephole: bool | None = None) -> LSTMSpec | None:
    """The LSTMSpec of a name (None for gru/rnn), with an optional peephole override."""
    name = resolve_cell(cell)
    if name not in LSTM_SPECS:
        if peephole:
            raise InvalidArgument(f"cell {name!r} has no cell state, so peephole=True is invalid; "
                             f"use an LSTM-family cell (e.g. cell=vanilla) or peephole=null")
        return None
    spec = LSTM_SPECS[name]
    if peephole is not None and peephole != spec.peephole:
        spec = LSTMSpec(spec.gates, bool(peephole), spec.input_act, spec.output_act, spec.cifg, spec.fgr)
    return spec


# Gating math shared by the dense and the conv form (channel axis = dim 1): plain autograd,
# used by ``step()``, the conv layers, the compiled loop, and as the tests' oracle.

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


def is_cell_name(name: str) -> bool:
    """a cell name: lstm (np), vanilla, nig, nfg, nog, niaf, noaf, cifg, fgr, gru or rnn"""
    return isinstance(name, str) and ALIASES.get(name.lower(), name.lower()) in CELLS


Cell = Annotated[str, Predicate(is_cell_name)]


def uniform_init(params: Sequence[nn.Parameter], hidden: int) -> None:
    """U(-1/sqrt(H), 1/sqrt(H)), torch's initialisation of its recurrent layers."""
    bound = 1.0 / math.sqrt(hidden)
    for p in params:
        nn.init.uniform_(p, -bound, bound)
