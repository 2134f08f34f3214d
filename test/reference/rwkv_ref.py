"""Independent numpy references for the seq dialect's recurrences.

Written from the RWKV papers and the op descriptions in docs/generated/Seq.md,
in float64 and in the direct (not the numerically stabilized) form, so that
they share no code or formulation with the compiler's lowering.
"""

import numpy as np


def token_shift(x, prev):
    """shifted[0] = prev, shifted[t] = x[t-1]; last = x[T-1]."""
    shifted = np.concatenate([prev[None, :], x[:-1]], axis=0)
    return shifted, x[-1].copy()


def wkv4(k, v, w, u, state):
    """RWKV-4 WKV, direct form.

    The stable state (aa, bb, pp) stands for the sums A = aa * exp(pp) and
    B = bb * exp(pp) of exp-weighted past values and weights:
        y[t] = (A + exp(u + k[t]) v[t]) / (B + exp(u + k[t]))
        A    = exp(w) A + exp(k[t]) v[t],   B = exp(w) B + exp(k[t])
    Returns y and the final (A, B).
    """
    k, v, w, u = (np.asarray(a, dtype=np.float64) for a in (k, v, w, u))
    aa, bb, pp = (np.asarray(r, dtype=np.float64) for r in state)
    a_sum, b_sum = aa * np.exp(pp), bb * np.exp(pp)
    y = np.empty_like(k)
    for t in range(k.shape[0]):
        bonus = np.exp(u + k[t])
        y[t] = (a_sum + bonus * v[t]) / (b_sum + bonus)
        a_sum = np.exp(w) * a_sum + np.exp(k[t]) * v[t]
        b_sum = np.exp(w) * b_sum + np.exp(k[t])
    return y, a_sum, b_sum
