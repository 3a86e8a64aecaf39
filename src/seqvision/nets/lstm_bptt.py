"""The LSTM family's fast sequence path: hand-written BPTT in one autograd Function.

Hand-written because no library kernel computes these variants: ``nn.LSTM`` and cuDNN/oneDNN
know only the plain LSTM, and a per-step autograd loop records a graph node per elementwise op
(2.3x ``nn.LSTM``'s time on a CPU, against 1.1-1.5x here; ``benchmarks/results/2026-11-22_cells.md``).
The equations are those of ``cells.py``; the tests check this path against them.
"""

from __future__ import annotations

import torch

from .cells import LSTMSpec

_sigmoid_bwd_ = torch.ops.aten.sigmoid_backward.grad_input  # (grad, output, grad_input=out)
_tanh_bwd = torch.ops.aten.tanh_backward  # grad * (1 - output**2) in one kernel
_tanh_bwd_ = torch.ops.aten.tanh_backward.grad_input


class LSTMSequence(torch.autograd.Function):
    """Input projection + recurrence of an LSTM-family cell, feature-major: ``x (T, I, B)``.

    Feature-major (each step's pre-activations are ``(G*H, B)``) makes every gate block a
    contiguous ``(H, B)`` tensor: strided views (a column slice of a ``(B, 4H)`` matrix) fall off
    the vectorized kernels. Forward: the input projection of
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
