"""The dense form of every cell (``RecurrentCell``) and multi-layer stacks of it (``RecurrentStack``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqvision.errors import InvalidArgument

from .cells import IMPLS, LIBRARY_CELLS, LSTMSpec, gru_gating, lstm_gating, lstm_spec, resolve_cell, uniform_init
from .lstm_bptt import LSTMSequence


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
COMPILE_BACKEND = "inductor"  # torch.compile's default; the tests use aot_eager (seconds, not minutes)


def _compiled_dense_step():
    global _COMPILED_STEP
    if _COMPILED_STEP is None:
        _COMPILED_STEP = torch.compile(_dense_step, dynamic=False, backend=COMPILE_BACKEND)
    return _COMPILED_STEP


class RecurrentCell(nn.Module):
    """Dense cell of any name in ``CELLS``: ``step`` for one time step, ``forward`` for a sequence.

    Parameters: ``weight_ih (G*H, I)``, ``weight_hh (G*H, H)``, ``bias (G*H)``, plus
    ``peephole (P, H)`` (rows = ``spec.peep_gates``), ``weight_gg (3H, 3H)`` for fgr and
    ``bias_hn (H)`` for gru. State: ``(h,)`` for gru/rnn, ``(h, c)`` for the LSTM family,
    ``(h, c, q)`` for fgr.
    """

    def __init__(self, input_size: int, hidden_size: int, cell: str = "lstm",
                 peephole: bool | None = None, impl: str = "bptt"):
        super().__init__()
        self.cell = resolve_cell(cell)
        self.spec = lstm_spec(self.cell, peephole)
        if impl not in ("bptt", "autograd", "compiled"):
            raise InvalidArgument(f"a RecurrentCell runs impl bptt, autograd or compiled, not {impl!r}")
        if impl == "bptt" and self.spec is None:
            impl = "autograd"  # gru and rnn have no hand-written path of their own
        self.input_size, self.hidden_size, self.impl = input_size, hidden_size, impl
        self.gates = self.spec.gates if self.spec else (("r", "z", "n") if self.cell == "gru" else ("h",))
        G, H = len(self.gates), hidden_size
        self.weight_ih = nn.Parameter(torch.empty(G * H, input_size))
        self.weight_hh = nn.Parameter(torch.empty(G * H, H))
        self.bias = nn.Parameter(torch.empty(G * H))
        self.peephole = nn.Parameter(torch.empty(len(self.spec.peep_gates), H)) if self.spec and self.spec.peephole else None
        self.weight_gg = nn.Parameter(torch.empty(3 * H, 3 * H)) if self.spec and self.spec.fgr else None
        self.bias_hn = nn.Parameter(torch.empty(H)) if self.cell == "gru" else None
        uniform_init([p for p in self.parameters()], H)

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
        fn = _compiled_dense_step() if self.impl == "compiled" else _dense_step
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

        ``impl="bptt"`` (LSTM family) runs the hand-written BPTT of ``lstm_bptt``; ``autograd``
        and ``compiled`` loop over ``step``. The input projection of all steps is one matmul.
        """
        T, _, B = x.shape
        state = self.init_state(B, x) if state is None else tuple(state)
        if self.impl == "bptt":
            return self._run_bptt(x, state)
        xp = self.project(x.transpose(1, 2))  # (T, B, G*H)
        outs = []
        for t in range(T):
            h, state = self.step(xp[t], state, projected=True)
            outs.append(h)
        return torch.stack(outs).transpose(1, 2), state

    def _run_bptt(self, x, state):
        h0, c0 = state[0].t(), state[1].t()
        q0 = state[2].t() if self.spec.fgr else h0.new_zeros(0)
        params = (self.weight_hh, self.weight_gg, self.peephole)
        if torch.is_autocast_enabled(x.device.type):  # the preallocated buffers need one dtype
            dt = self.weight_hh.dtype
            with torch.autocast(x.device.type, enabled=False):
                out, c, q = LSTMSequence.apply(x.to(dt), self.weight_ih, self.bias, h0.to(dt), c0.to(dt),
                                                q0.to(dt), *params, self.spec)
        else:
            out, c, q = LSTMSequence.apply(x, self.weight_ih, self.bias, h0, c0, q0, *params, self.spec)
        h = out[-1].t()
        return out, ((h, c.t(), q.t()) if self.spec.fgr else (h, c.t()))


class RecurrentStack(nn.Module):
    """Multi-layer (optionally bidirectional) recurrent net over ``(B, T, F)``.

    ``forward(x, states=None) -> (out (B, T, H * dirs), states)``; ``states`` is a list with one
    state tuple per (layer, direction), layer-major as in torch. Dropout acts between layers.

    ``impl`` says how a sequence is computed, one name per way (``cells.IMPLS``): ``library``
    runs ``nn.LSTM/GRU/RNN`` (cuDNN / oneDNN kernels; only lstm, gru, rnn without peepholes);
    ``bptt`` this package's hand-written BPTT (LSTM family); ``autograd`` a plain loop over the
    cell's ``step`` (the reference); ``compiled`` that loop over a ``torch.compile``-d step;
    ``auto`` (the default) is ``library`` where it applies and ``bptt`` or ``autograd``
    otherwise. Own cells keep activations feature-major ``(T, F, B)`` between layers.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, cell: str = "lstm",
                 bidirectional: bool = False, dropout: float = 0.0, peephole: bool | None = None,
                 impl: str = "auto"):
        super().__init__()
        if num_layers < 1:
            raise InvalidArgument(f"num_layers must be >= 1, got {num_layers}; e.g. num_layers=1")
        self.cell = resolve_cell(cell)
        self.num_layers, self.hidden_size, self.dropout = num_layers, hidden_size, dropout
        self.dirs = 2 if bidirectional else 1
        if impl not in IMPLS:
            raise InvalidArgument(f"impl={impl!r} is unknown; valid: {', '.join(IMPLS)}")
        library = self.cell in LIBRARY_CELLS and not peephole
        if impl == "library" and not library:
            raise InvalidArgument(f"impl=library runs only {', '.join(LIBRARY_CELLS)} without peepholes, not "
                                  f"cell={self.cell!r}; e.g. impl=auto")
        if impl == "bptt" and lstm_spec(self.cell, peephole) is None:
            raise InvalidArgument(f"impl=bptt is the LSTM family's path; cell={self.cell!r} runs impl=library or autograd")
        self.impl = ("library" if library else "bptt") if impl == "auto" else impl
        self.torch_rnn = None
        if self.impl == "library":
            cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[self.cell]
            self.torch_rnn = cls(input_size, hidden_size, num_layers, batch_first=True,
                                 dropout=dropout if num_layers > 1 else 0.0, bidirectional=bidirectional)
        else:
            self.layers = nn.ModuleList(
                nn.ModuleList(RecurrentCell(input_size if l == 0 else hidden_size * self.dirs, hidden_size,
                                            self.cell, peephole, self.impl) for _ in range(self.dirs))
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
