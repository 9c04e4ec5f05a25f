# %% [markdown]
# # Mini-batches and held-out data
#
# The training loop of the main page computes every gradient on all 200 points, and it judges the
# network by its loss on those same points. This page changes each of those in turn, on the
# article's network and data. Section 1 computes each gradient on a few rows at a time, a
# **mini-batch**, and asks what that saves. Section 2 draws 200 fresh points that training never
# sees, and asks how well the network does on them.
#
# You need the main page up to section 5: `train` (section 4) and Adam (section 5). Both
# sections here train with Adam at $\eta = 0.01$ from the article's start. To run the page, from
# the project root: `python -m docs.minibatches`. It prints everything and writes its figures
# into `figures/`; importing it runs nothing. `tests/test_minibatches.py` imports it and checks
# what the text below says.

# %% tags=["fold"]
# Imports, the article's problem, and a training run that logs its losses
from __future__ import annotations

import time

import numpy as np

import scratch_mlp as sm

THRESHOLD = 0.02  # "has learned the sine": twice the noise variance 0.1**2


def article_problem():
    """The article's start and data: ``(params, X, y)``, the network [1, 64, 1] at its He
    initialisation and 200 noisy points of sin(x)."""
    rng = np.random.RandomState(0)  # the article's np.random.seed(0)
    X, y = sm.make_sine_data(rng)
    return sm.init_mlp([1, 64, 1], rng), X, y


def loss_on(params, X, y) -> float:
    """The MSE of the network ``params`` on the points ``X, y``."""
    return float(sm.mse_loss(sm.mlp_forward(params, X)[0], y)[0])


def train_logged(steps: int, sets: dict, batch_size=None, every: int = 20, lr: float = 0.01):
    """Adam at ``lr`` from the article's start, for ``steps`` steps, ``batch_size`` rows each
    (None: all 200).

    ``sets`` maps a name to points ``(X, y)``. Before the first update and after every
    ``every``-th, the loss on each set is measured on the same parameters. Returns
    ``(params, log)`` with ``log["updates"]``, the number of updates made at each measurement,
    and ``log[name]``, the losses on that set: arrays of the same length.
    """
    params, X, y = article_problem()
    log = {"updates": [], **{name: [] for name in sets}}

    def record(updates, params):
        log["updates"].append(updates)
        for name, (X_set, y_set) in sets.items():
            log[name].append(loss_on(params, X_set, y_set))

    def on_step(step, loss, params):  # train calls it after the update of step `step`
        if (step + 1) % every == 0:
            record(step + 1, params)

    record(0, params)
    rng = np.random.default_rng(0)  # the order of the rows, epoch by epoch
    optimizer = sm.Adam(lr=lr)
    sm.train(params, X, y, sm.mse_loss, optimizer, steps, batch_size, rng, on_step=on_step)
    return params, {name: np.array(values) for name, values in log.items()}


# %% [markdown]
# ## 1. Mini-batches
#
# With `batch_size` set, `train` computes each step's loss and gradient on `batch_size` rows
# instead of all $N = 200$. It draws the rows without repeats: it shuffles the row numbers into a
# random order, and each step takes the next `batch_size` of them. One pass through that order is
# an **epoch**; when fewer than `batch_size` rows are left, `train` draws a new order and a new
# epoch begins. With batches of 16 an epoch is 12 steps, and the 8 rows left over sit that epoch
# out (different rows each time).
#
# A batch's gradient is the gradient of the loss on those rows only: a noisy estimate of the
# gradient on all 200. Below, Adam at $\eta = 0.01$ trains with batches of 1, 16 and all 200 rows,
# 2000 steps each. Whatever the batch, `on_step` measures the loss on **all 200 rows** every 20
# updates, so the three curves are measured alike.

# %%
BATCH_SIZES = (1, 16, 200)


def examples_to_threshold(log, batch_size: int, threshold: float = THRESHOLD):
    """The examples seen (updates times rows per update) when the loss on all rows was first
    measured below ``threshold``; None if it never was."""
    below = np.flatnonzero(log["training"] < threshold)
    return int(log["updates"][below[0]]) * batch_size if below.size else None


if __name__ == "__main__":
    _, X, y = article_problem()
    batch_logs = {b: train_logged(2000, {"training": (X, y)}, batch_size=b)[1] for b in BATCH_SIZES}
    for b, log in batch_logs.items():
        seen = examples_to_threshold(log, b)
        print(
            f"batch {b:3d}: loss on all rows after 2000 updates {log['training'][-1]:.4f}; "
            f"first below {THRESHOLD} after {seen // b:4d} updates, {seen:6,} examples seen"
        )

# %% tags=["fold"]
# Figure: the loss on all rows against updates and against examples seen
if __name__ == "__main__":
    fig = sm.new_figure(figsize=(10, 3.6))
    if fig is not None:
        ax_steps, ax_seen = fig.subplots(1, 2, sharey=True)
        for b, log in batch_logs.items():
            label = "full batch (200)" if b == 200 else f"batch {b}"
            ax_steps.semilogy(log["updates"], log["training"], label=label)
            later = log["updates"] > 0  # no update yet: 0 examples seen, off a log axis
            ax_seen.loglog(log["updates"][later] * b, log["training"][later], label=label)
        for ax in (ax_steps, ax_seen):
            ax.axhline(THRESHOLD, color="gray", ls=":", lw=1)
        ax_steps.set(xlabel="updates", ylabel="loss on all 200 rows (log scale)")
        ax_steps.set_title("Against updates", fontsize=10)
        ax_seen.set(xlabel="examples seen (log scale)")
        ax_seen.set_title("Against examples seen", fontsize=10)
        ax_steps.legend(fontsize=8)
        sm.save_figure(
            fig,
            "mb_batches.png",
            alt=(
                "The loss on all 200 rows, on log scales, for Adam with batches of 1, 16 and 200 "
                "rows; a dotted line marks 0.02. Against updates, the full batch falls fastest "
                "and smoothly, batch 16 with small jitter, batch 1 slowest and with large jumps. "
                "Against examples seen the order reverses: batch 1 crosses 0.02 after about 1,100 "
                "examples, batch 16 after about 5,000, the full batch after 44,000."
            ),
        )

# %% [markdown]
# **Per update, the full batch wins**: it reaches 0.02 in the fewest updates, and its curve is
# smooth. **Per example seen, small batches win by far**: the full batch has used 44,000 examples
# (220 updates of 200) by the time its loss is below 0.02, batch 16 only 5,120, batch 1 only
# 1,100 (the loss is measured every 20 updates, so these are multiples of 20 updates). Two hundred
# noisy steps in a roughly right direction do more than one exact step. The price is the noise:
# each step follows its own batch, so with batch 1 the loss on all rows keeps jumping, far above
# the full batch's curve after 2000 updates; a smaller $\eta$ late in training would calm it.
#
# **What does an update cost?** Count the arithmetic first, in floating-point operations: an
# add, a multiply, a division, a square root, a comparison or a max is one, a multiply-add two.
# A step has three parts.
#
# - The matrix products, forward and backward: a fixed number of multiply-adds per row, 320 for
#   this network.
# - The entry-by-entry work of the forward and backward passes, also per row: adding each bias
#   and summing its gradient, the ReLU, its mask and the product with the mask, and the loss.
# - Adam's update, which does not grow with the batch: it touches the same 193 parameters at
#   every step. By its equations in [the training loop](../scratch_mlp/#5-adam), each parameter
#   costs 14 operations: 3 for $m_t$ (two products and a sum), 4 for $v_t$ (the square, two
#   products, a sum), 1 for each bias correction, 1 for the square root, 1 to add $\epsilon$,
#   and 3 for the step (times $\eta$, the division, the subtraction).
#
# These counts are an estimate read off the equations, not a measurement: NumPy may do a little
# more or less. The cell below counts them from the layer shapes, and times steps with
# `time.perf_counter`, each batch size over 1000 steps, five times, keeping the median.


# %%
def multiply_adds_per_step(sizes, batch_size: int) -> int:
    """The multiply-adds of a step's matrix products for layer widths ``sizes``: per layer,
    ``X @ W`` forward and ``X.T @ d_Z`` backward, and ``d_Z @ W.T`` for all but the first,
    each ``batch_size * p * q`` for a layer ``W`` of shape ``(p, q)``."""
    shapes = list(zip(sizes[:-1], sizes[1:], strict=True))  # (p, q) of each layer's W
    per_row = sum((2 if l == 0 else 3) * p * q for l, (p, q) in enumerate(shapes))
    return batch_size * per_row


ADAM_OPERATIONS = 14  # per parameter: m 3, v 4, the two corrections 2, sqrt 1, + eps 1, step 3


def operations_per_step(sizes, batch_size: int) -> dict:
    """An estimate, from the equations, of the floating-point operations of one ``train`` step
    of Adam on an MLP of widths ``sizes`` (a multiply-add counts 2, any other operation 1):
    ``{"products": ..., "entrywise": ..., "update": ..., "total": ...}``."""
    widths = sizes[1:]  # the units of each layer; the last layer is the output
    per_row = (
        2 * sum(widths)  # each bias added (forward) and summed into db (backward)
        + 3 * sum(widths[:-1])  # each hidden unit: max(0, Z), the mask Z > 0, d_A times the mask
        + 5 * widths[-1]  # the loss per output: out - y, its square, its sum, 2 * diff / size
    )
    parameters = sum(p * q + q for p, q in zip(sizes[:-1], sizes[1:], strict=True))
    counts = {
        "products": 2 * multiply_adds_per_step(sizes, batch_size),
        "entrywise": batch_size * per_row,
        "update": ADAM_OPERATIONS * parameters,
    }
    return {**counts, "total": sum(counts.values())}


def seconds_per_step(batch_size: int, steps: int = 1000, repeats: int = 5) -> float:
    """The median over ``repeats`` runs of the wall time of one ``train`` step of Adam on the
    article's problem with ``batch_size`` rows."""
    times = []
    for _ in range(repeats):
        params, X, y = article_problem()
        rng, optimizer = np.random.default_rng(0), sm.Adam(lr=0.01)
        start = time.perf_counter()
        sm.train(params, X, y, sm.mse_loss, optimizer, steps, batch_size, rng)
        times.append((time.perf_counter() - start) / steps)
    return float(np.median(times))


if __name__ == "__main__":
    step_time = {b: seconds_per_step(b) for b in BATCH_SIZES}
    operations = {b: operations_per_step([1, 64, 1], b) for b in BATCH_SIZES}
    print(f"{'':9}{'operations per step':^37}{'time':>12}{f'to reach {THRESHOLD}':^31}".rstrip())
    print(
        f"{'':9}{'products':>9}{'entrywise':>11}{'update':>8}{'total':>9}{'per step':>12}"
        f"{'updates':>10}{'operations':>11}{'time':>10}"
    )
    for b in BATCH_SIZES:
        updates = examples_to_threshold(batch_logs[b], b) // b
        ops = operations[b]
        print(
            f"batch {b:3d} {ops['products']:8,} {ops['entrywise']:10,} {ops['update']:7,} "
            f"{ops['total']:8,} {step_time[b] * 1e6:8.0f} µs {updates:9d} "
            f"{updates * ops['total'] / 1e6:8.1f} M {updates * step_time[b] * 1e3:6.0f} ms"
        )
    one, full = operations[1]["total"], operations[200]["total"]
    print(
        f"batch 200 against batch 1: "
        f"{multiply_adds_per_step([1, 64, 1], 200) / multiply_adds_per_step([1, 64, 1], 1):.0f}x "
        f"the multiply-adds, {full / one:.0f}x the operations of the whole step, "
        f"{step_time[200] / step_time[1]:.1f}x the time per step"
    )
    # What an operation costs at the margin, from the two, and so the 1-row step's arithmetic
    per_operation = (step_time[200] - step_time[1]) / (full - one)
    print(
        f"at the {per_operation * 1e9:.2f} ns per operation that the extra operations of batch 200 "
        f"cost, batch 1's {one:,} operations\ntake about {one * per_operation * 1e6:.1f} µs of its "
        f"{step_time[1] * 1e6:.0f} µs step; the rest is fixed cost per call"
    )

# %% [markdown]
# From batch 1 to batch 200 the matrix products grow 200-fold, but the whole step's arithmetic
# only 53-fold: at batch 1, Adam's update, 2,702 operations, outweighs the forward and backward
# passes, 640 operations in the products and 327 entry by entry. Small batches still reach 0.02
# with the least arithmetic: 4.0 million operations for batch 1, 5.8 million for batch 16, 43.1
# million for the full batch.
#
# In wall time the gap shrinks further: a 200-row step takes less than twice as long as a 1-row
# step (the ratio printed above), for 53 times the arithmetic. Every step also pays fixed costs,
# whatever the size of its arrays: the Python calls of the forward pass, the loss, the backward
# pass and the update, the input checks in each of them, and the start of each of a few dozen
# NumPy operations. The two timings give an estimate of the arithmetic's share: the extra
# operations of batch 200 cost a fraction of a nanosecond each, so batch 1's 3,669 take under a
# microsecond of its step, and the fixed costs take the rest. That is why batch 1, the winner per
# example and per operation, is the slowest of the three to reach 0.02 by the clock. The
# arithmetic decides once a step's matrices are large: the [Benchmark](../benchmark/) page times a
# 784-256-10 network, where it does. That is where mini-batches earn their keep, along with data
# sets too large to take in one step.
#
# ## 2. Held-out data
#
# The training loss says how well the network fits the 200 points it learns from. What matters is
# how well it predicts points it has not seen. Draw 200 fresh points of the same noisy sine, the
# **held-out** set, and train on the original 200 exactly as before (full batch), measuring the
# loss on both sets every 20 updates, on the same parameters each time.


# %%
def held_out_points(n: int = 200, noise: float = 0.1):
    """``n`` fresh points of the article's noisy sine: x uniform on [-pi, pi], sorted."""
    rng = np.random.default_rng(7)
    X = np.sort(rng.uniform(-np.pi, np.pi, (n, 1)), axis=0)
    return X, np.sin(X) + noise * rng.standard_normal(X.shape)


def noise_of(X, y) -> float:
    """The loss of the true function, sin(x), on the points: the mean square of their noise."""
    return float(np.mean((y - np.sin(X)) ** 2))


def smooth_stretch(log, start: int = 500) -> slice:
    """The measurements from update ``start`` up to the last one before the training loss first
    rises: the stretch of a run before Adam's jitter sets in, as a slice of the log."""
    first = int(np.flatnonzero(log["updates"] == start)[0])
    rises = np.flatnonzero(np.diff(log["training"][first:]) > 0)
    return slice(first, first + (rises[0] + 1 if rises.size else len(log["training"]) - first))


LAST = 500  # the updates at the end of the run that the text averages over


if __name__ == "__main__":
    _, X, y = article_problem()
    X_held, y_held = held_out_points()
    sets = {"training": (X, y), "held-out": (X_held, y_held)}
    fitted, held_log = train_logged(2000, sets)
    for updates in (0, 20, 500, 1000, 1500, 2000):
        i = int(np.flatnonzero(held_log["updates"] == updates)[0])
        print(
            f"after {held_log['updates'][i]:4d} updates: training loss "
            f"{held_log['training'][i]:.4f}, held-out loss {held_log['held-out'][i]:.4f}"
        )
    noise = {name: noise_of(*points) for name, points in sets.items()}
    print(
        f"sin(x) itself (the noise alone): {noise['training']:.4f} on the training points, "
        f"{noise['held-out']:.4f} on the held-out points"
    )
    x_fine = np.linspace(-np.pi, np.pi, 1000).reshape(-1, 1)
    off_sine = float(np.mean((sm.mlp_forward(fitted, x_fine)[0] - np.sin(x_fine)) ** 2))
    print(
        f"held-out loss minus held-out noise: {held_log['held-out'][-1] - noise['held-out']:.4f}; "
        f"the fit's mean squared distance from sin(x) on [-pi, pi]: {off_sine:.4f}"
    )
    smooth = smooth_stretch(held_log)
    updates, training, held = (held_log[k][smooth] for k in ("updates", "training", "held-out"))
    print(
        f"updates {updates[0]} to {updates[-1]}, while the training loss falls at every "
        f"measurement:\n  training {training[0]:.5f} -> {training[-1]:.5f}, held-out "
        f"{held[0]:.5f} -> {held[-1]:.5f} (lowest {held.min():.5f} at update "
        f"{updates[np.argmin(held)]}, highest {held.max():.5f} at {updates[np.argmax(held)]});\n"
        f"  gap {held[0] - training[0]:.5f} -> {held[-1] - training[-1]:.5f}"
    )
    last = held_log["updates"] > held_log["updates"][-1] - LAST
    training_last, held_last = held_log["training"][last], held_log["held-out"][last]
    print(
        f"the last {LAST} updates ({last.sum()} measurements): held-out from {held_last.min():.4f} "
        f"to {held_last.max():.4f};\n  on average training {training_last.mean():.5f}, held-out "
        f"{held_last.mean():.5f}, gap {held_last.mean() - training_last.mean():.5f}"
    )

# %% tags=["fold"]
# Figure: training and held-out loss, each with the loss of sin(x) on its points
if __name__ == "__main__":
    fig = sm.new_figure(figsize=(10, 3.8), layout="constrained")
    if fig is not None:
        whole, zoom = fig.subplots(1, 2)
        late = held_log["updates"] >= 400
        for name, color, label in [
            ("training", "C0", "training loss (the 200 points trained on)"),
            ("held-out", "C1", "held-out loss (200 fresh points)"),
        ]:
            whole.semilogy(held_log["updates"], held_log[name], color=color, label=label)
            zoom.plot(held_log["updates"][late], held_log[name][late], color=color)
            for ax in (whole, zoom):
                ax.axhline(noise[name], color=color, ls=":", lw=1.2)
        whole.plot([], [], color="gray", ls=":", label="sin(x) itself on those points")
        whole.set(xlabel="updates", ylabel="MSE loss (log scale)", ylim=(0.005, 2))
        whole.set_title("The whole run", fontsize=10)
        whole.legend(fontsize=8)
        # Each curve runs close to the other set's dotted line: every line carries its own label.
        for x, y_text, va, color, text in [
            (450, noise["training"], "bottom", "C0", "sin(x) on the training points"),
            (450, noise["held-out"], "bottom", "C1", "sin(x) on the held-out points"),
            (800, held_log["held-out"][smooth].min(), "top", "C1", "held-out loss"),
            (800, held_log["training"][smooth].min(), "top", "C0", "training loss"),
        ]:
            zoom.text(x, y_text - 0.00005 if va == "top" else y_text + 0.00003, text, va=va,
                      color=color, fontsize=8)  # fmt: skip
        zoom.set(xlabel="updates", ylabel="MSE loss", ylim=(0.0083, 0.012))
        zoom.set_title("From update 400, zoomed in", fontsize=10)
        fig.suptitle("Adam, lr = 0.01: fitting the data, and fitting its noise")
        sm.save_figure(
            fig,
            "mb_held_out.png",
            alt=(
                "Training and held-out loss, measured together every 20 updates over 2000 "
                "updates of Adam. Left, log scale: both start at about 1.6 and fall together to "
                "near 0.01. Right, zoomed in from update 400, each line labelled where it runs: "
                "dotted lines mark the loss of sin(x) itself, 0.0105 on the training points and "
                "0.0094 on the held-out points. The training loss runs below both lines, but for "
                "a few spikes late in the run, "
                "falling smoothly from 0.0091 at update 500 to 0.0088 by update 1360, and ends "
                "at 0.0087, below its own line at 0.0105; the held-out loss runs just under the "
                "training points' line, near 0.0103, then jitters between 0.0101 and 0.0116 over "
                "the last 500 updates, and ends at 0.0105, above its own line at 0.0094."
            ),
        )

# %% [markdown]
# Measured on the same parameters, the two losses fall together while the network learns the
# shape of the sine, within a few percent of each other (before any update, 1.5907 on the training
# points and 1.5763 on the held-out ones). That early difference says nothing about learning: it
# is the same network scored on two different draws of points, and either set can come out a
# little lower. Then the curves part.
#
# The dotted lines are the loss of the true curve, $\sin x$, on each set of points: what is left
# is exactly the noise those points carry, 0.0105 on the training points and 0.0094 on the
# held-out points (the noise's variance is $0.1^2 = 0.01$; 200 particular draws average a little
# more or less). No function of $x$ can predict fresh noise, so on new points no network can
# expect to beat $\sin x$.
#
# On the points it was trained on, the network does beat it: its training loss ends at 0.0087,
# below their noise of 0.0105. It has bent its curve towards the particular noise of those 200
# points, and on them that bending scores. On fresh points the same bending is error: the
# held-out loss ends at 0.0105, above their noise of 0.0094, by 0.0011, about the fit's own mean
# squared distance from $\sin x$, 0.0014.
#
# Watch the two curves while the network goes on fitting. From update 500 to 1360 the training
# loss falls at every measurement, from 0.00907 to 0.00877, and the held-out loss stops falling:
# 0.01029 at update 500, 0.01034 at 1360, and in between never below 0.01028 (at update 540). The
# gap between them grows from 0.00122 to 0.00157. After that, Adam's jitter sets in: it divides
# each step by the size of the recent gradients, so its steps do not shrink as the gradients do,
# and near the minimum it rattles (a smaller $\eta$ late in training calms it). Over
# the last 500 updates the held-out loss swings between 0.0101 and 0.0116 from one measurement to
# the next, so no single measurement there says much; averaged over those 500 updates, the
# training loss is 0.00899 and the held-out loss 0.01062, a gap of 0.00164, still wider than at
# update 500. That widening gap is **memorisation**, a fit to noise that will not come again. The
# usual remedies are to stop early, when the held-out loss stops falling; fewer parameters; or
# more data.
#
# A held-out set is how a network should be judged, and it must stay unseen: a choice made by
# looking at its loss (a learning rate, a step to stop at) is a little training on it.
