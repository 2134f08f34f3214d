"""Numpy reference for seq.lif (leaky integrate-and-fire neurons).

Written from the op's description in docs/generated/Seq.md (SpikingJelly's
LIF node, as SpikeGPT uses it), in float32 with the operations in the order
the description writes them, so that spikes, ties on the threshold included,
are reproduced exactly:

    charge:  h = v + (x[t] - (v - v_reset)) / tau        decay_input
             h = v - (v - v_reset) / tau + x[t]           otherwise
    fire:    s[t] = h >= v_threshold   (ge)   or   h > v_threshold   (gt)
    reset:   v = s[t] ? v_reset : h                        hard
             v = h - s[t] * v_threshold                     soft
"""

import numpy as np

F32 = np.float32


def charge(v, x, tau, v_reset, decay_input):
    """The membrane before firing, h, in float32."""
    v, x = np.asarray(v, F32), np.asarray(x, F32)
    tau, v_reset = F32(tau), F32(v_reset)
    if decay_input:
        return v + (x - (v - v_reset)) / tau
    return (v - (v - v_reset) / tau) + x


def lif(x, v, tau, v_threshold=1.0, v_reset=0.0, reset="hard",
        decay_input=True, fire="ge"):
    """Runs the neurons over x[T, d...] from the membrane v[d...].

    Returns (spikes[T, d...], final membrane[d...], ties), all float32 but
    ties: the number of (step, neuron) pairs whose h equals v_threshold
    exactly (where ge and gt differ).
    """
    x = np.asarray(x, F32)
    v = np.array(v, F32)
    thr, rst = F32(v_threshold), F32(v_reset)
    spikes = np.empty_like(x)
    ties = 0
    for t in range(x.shape[0]):
        h = charge(v, x[t], tau, v_reset, decay_input)
        ties += int(np.count_nonzero(h == thr))
        fired = h >= thr if fire == "ge" else h > thr
        s = fired.astype(F32)
        v = np.where(fired, rst, h).astype(F32) if reset == "hard" else (h - s * thr).astype(F32)
        spikes[t] = s
    return spikes, v, ties
