# %% [markdown]
# # The step size and curvature
#
# With the article's learning rate $\eta = 0.01$, the loss in [the training
# loop](../scratch_mlp/) does something odd before it falls: its first step lowers it, from 1.59
# to 0.75, and then it climbs, up to 8.4 at step 20, before it comes down. This page explains
# the climb with one idea: how large a step may be depends on how sharply the loss curves. Then
# it finds the largest learning rate that still trains the article's network. It is more than
# twice what that idea predicts, and the last section shows why: the *catapult*.
#
# **You need** the training loop up to its section 4: the article's network, `loss_and_grads`,
# `SGD` and `train`. Every step on this page uses all 200 points, so `SGD` here is full-batch
# gradient descent, $\theta \leftarrow \theta - \eta\, g$ with the exact gradient $g$ (the
# *stochastic* in its name comes with [mini-batches](../minibatches/)). **To run it**, type
# `python -m docs.step_size` in the project root. It prints every number on this page and writes
# the figures into `figures/`; importing it runs nothing.

# %% tags=["fold"]
# Imports, and the article's data and start
from __future__ import annotations

import numpy as np

import scratch_mlp as sm


def article_start():
    """The article's network at its start, and its data: ``(params, X, y)``."""
    rng = np.random.RandomState(0)  # the article's np.random.seed(0)
    X, y = sm.make_sine_data(rng)
    return sm.init_mlp([1, 64, 1], rng), X, y


# %% [markdown]
# ## 1. One direction: a bowl
#
# Start with the simplest loss, of one parameter $c$: a bowl $L(c) = \tfrac12 \lambda c^2$ with
# its bottom at $c = 0$. Its second derivative, $d^2L/dc^2 = \lambda$, is its **curvature**: the
# larger $\lambda$, the steeper the walls. The gradient is $\lambda c$, so one step of gradient
# descent gives
#
# $$c \leftarrow c - \eta \lambda c = (1 - \eta\lambda)\, c .$$
#
# Every step multiplies the distance to the bottom by the same factor, $1 - \eta\lambda$:
#
# - $\eta\lambda < 1$: the factor lies between 0 and 1, and $c$ shrinks without changing sign.
#   The steps slide down one wall.
# - $1 < \eta\lambda < 2$: the factor lies between $-1$ and 0. Each step overshoots the bottom and
#   lands on the other wall, but lower: a zigzag that shrinks.
# - $\eta\lambda > 2$: $|1 - \eta\lambda| > 1$. Each step overshoots by more than the distance it
#   started from: a zigzag that grows, and the loss $\tfrac12\lambda c^2$ grows by
#   $(1 - \eta\lambda)^2$ per step.
#
# So gradient descent on a bowl of curvature $\lambda$ is stable only if $\eta < 2/\lambda$. Here
# is a bowl with $\lambda = 10$ at three rates:


# %%
def descend_on_a_bowl(curvature: float, lr: float, c0: float = 1.0, steps: int = 8):
    """Gradient descent on the bowl ``L(c) = curvature * c**2 / 2``: the points ``c_0`` to
    ``c_steps``."""
    path = [c0]
    for _ in range(steps):
        gradient = curvature * path[-1]  # dL/dc
        path.append(path[-1] - lr * gradient)
    return np.array(path)


BOWL_CURVATURE = 10.0
BOWL_RATES = (0.05, 0.15, 0.21)  # lr * curvature = 0.5, 1.5 and 2.1

if __name__ == "__main__":
    bowl_paths = {lr: descend_on_a_bowl(BOWL_CURVATURE, lr) for lr in BOWL_RATES}
    for lr, path in bowl_paths.items():
        factor = abs(1 - lr * BOWL_CURVATURE)
        print(
            f"lr = {lr:<5} |1 - lr * lambda| = {factor:.1f}   c: "
            + " ".join(f"{c:+.3f}" for c in path[:6])
        )

# %% tags=["fold"]
# Plotting: gradient descent on a one-dimensional bowl at three learning rates
if __name__ == "__main__":
    fig = sm.new_figure(figsize=(10, 3.2))
    if fig is not None:
        axes = fig.subplots(1, 3, sharey=True)
        grid = np.linspace(-2.6, 2.6, 200)
        for ax, (lr, path) in zip(axes, bowl_paths.items(), strict=True):
            ax.plot(grid, BOWL_CURVATURE * grid**2 / 2, color="0.7")
            ax.plot(path, BOWL_CURVATURE * path**2 / 2, "o-", color="C0", ms=4, lw=1)
            ax.plot(path[0], BOWL_CURVATURE * path[0] ** 2 / 2, "o", color="C3", ms=6)
            ax.set(xlabel="$c$", xlim=(-2.6, 2.6), ylim=(0, 25))
            ax.set_title(rf"$\eta\lambda$ = {lr * BOWL_CURVATURE:.1f}", fontsize=10)
        axes[0].set_ylabel(r"$L = \lambda c^2 / 2$")
        sm.save_figure(
            fig,
            "ss_one_bowl.png",
            alt=(
                "Three panels of the parabola L = 5 c squared, each with eight steps of gradient "
                "descent from c = 1. At eta lambda 0.5 the steps slide down one side to the "
                "bottom; at 1.5 they jump from side to side and shrink to the bottom; at 2.1 they "
                "jump from side to side and climb higher each time."
            ),
        )


# %% [markdown]
# At $\eta\lambda = 2.1$, $c$ grows by exactly $|1 - \eta\lambda| = 1.1$ per step.
#
# ## 2. The largest curvature of the article's loss
#
# The article's loss depends on 193 numbers ($W_1$, $b_1$ and $W_2$ have 64 entries each, $b_2$
# one). Write them as one vector $\theta$. Near any $\theta$ the loss is close to its second-order
# Taylor expansion,
#
# $$L(\theta + \delta) \approx L(\theta) + g^\top \delta + \tfrac12\, \delta^\top H \delta ,$$
#
# where $g$ is the gradient and $H$ is the **Hessian**: the $193 \times 193$ matrix of second
# derivatives, $H_{ij} = \partial^2 L / \partial\theta_i \partial\theta_j$. It says how each entry
# of the gradient changes as each parameter moves, and it is symmetric. An **eigenvector** of $H$
# is a direction $v$ that $H$ only stretches, $Hv = \lambda v$. Its **eigenvalue** $\lambda$ is the
# curvature of the loss along $v$: moving $\theta$ by $s v$ adds $\tfrac12 \lambda s^2$ to the
# quadratic term. A symmetric matrix has a full set of eigenvectors at right angles to each other.
# Along each one with $\lambda_k > 0$ the expansion is a bowl of section 1, with $c_k$ the
# distance to its bottom, and gradient descent multiplies each $c_k$ by its own
# $1 - \eta\lambda_k$. The steepest direction, of the largest eigenvalue $\lambda_\mathrm{max}$,
# overshoots first. So a step is stable in every direction only if $\eta < 2/\lambda_\mathrm{max}$.
#
# **Measuring $\lambda_\mathrm{max}$.** We never need $H$ itself, only $H$ times a vector. $Hv$ is
# the rate at which the gradient changes as $\theta$ moves along $v$, so a centred difference of
# two gradients gives it:
#
# $$Hv \approx \frac{g(\theta + h v) - g(\theta - h v)}{2h} ,$$
#
# which is two calls of `loss_and_grads`. **Power iteration** then finds the largest eigenvalue.
# Start from any vector, multiply it by $H$, rescale it to length 1, and repeat. Each
# multiplication stretches the part of $v$ along each eigenvector by that eigenvector's
# eigenvalue. So the part along the eigenvalue largest in size outgrows the others, by the ratio
# of the two largest per round, and $v$ turns towards its eigenvector. Then
# $v^\top H v = \lambda_\mathrm{max}$.


# %%
def flat(tensors) -> np.ndarray:
    """A dict of arrays, in its order, as one vector."""
    return np.concatenate([t.ravel() for t in tensors.values()])


def moved(params, direction: np.ndarray, h: float):
    """``params + h * direction``, for a ``direction`` as long as ``flat(params)``."""
    parts = np.split(direction, np.cumsum([p.size for p in params.values()])[:-1])
    return {
        name: p + h * part.reshape(p.shape)
        for (name, p), part in zip(params.items(), parts, strict=True)
    }


def gradient(params, X, y) -> np.ndarray:
    """The gradient of the MSE loss, all parameters as one vector: one backward pass."""
    return flat(sm.loss_and_grads(params, X, y, sm.mse_loss)[1])


def hessian_times(params, X, y, v: np.ndarray, h: float = 1e-8) -> np.ndarray:
    """``H v``, the change of the gradient along ``v``, by a centred difference."""
    # A small h: where a step moves some unit's Z across the ReLU's kink, the gradient jumps and
    # the difference measures a slope of neither side. The smaller h, the rarer that is; float64
    # keeps the rounding of the difference near 1e-7 of the result.
    if not np.isfinite(v).all():  # a diverging run overflowed the last product: no curvature
        return np.full(v.shape, np.nan)
    g_plus = gradient(moved(params, v, h), X, y)
    g_minus = gradient(moved(params, v, -h), X, y)
    return (g_plus - g_minus) / (2 * h)


def top_curvature(params, X, y, v=None, iterations: int = 60):
    """``(lambda_max, v)``: the Hessian's largest eigenvalue and its unit eigenvector, by power
    iteration from ``v`` (all ones if None)."""
    v = np.ones(flat(params).size) if v is None else v
    v = v / np.linalg.norm(v)
    for _ in range(iterations):
        Hv = hessian_times(params, X, y, v)
        curvature = v @ Hv  # v^T H v: the curvature along v
        v = Hv / np.linalg.norm(Hv)
    return float(curvature), v


def hessian(params, X, y) -> np.ndarray:
    """The whole Hessian, column i being ``H e_i``: one Hessian-vector product per parameter."""
    H = np.column_stack([hessian_times(params, X, y, e) for e in np.eye(flat(params).size)])
    return (H + H.T) / 2  # symmetric up to rounding; exactly so for eigvalsh


if __name__ == "__main__":
    params_init, X, y = article_start()
    curvature_init, v_init = top_curvature(params_init, X, y)
    print(f"power iteration, 60 rounds: lambda_max = {curvature_init:.4f}")
    eigenvalues = np.linalg.eigvalsh(hessian(params_init, X, y))
    print(
        f"the whole {len(eigenvalues)} x {len(eigenvalues)} Hessian: largest eigenvalues "
        + ", ".join(f"{e:.4f}" for e in eigenvalues[::-1][:3])
        + f"; smallest {eigenvalues[0]:.2f}"
    )
    print(f"2 / lambda_max = {2 / curvature_init:.5f}")

# %% [markdown]
# Power iteration and the whole Hessian agree: $\lambda_\mathrm{max} = 210.92$ at the article's
# start. 193 parameters are few enough to build the whole Hessian, one Hessian-vector product per
# column; for a network of millions of parameters only the power iteration is possible. Only two
# directions are steep, with curvatures 210.9 and 115.9; every other lies between $-2.88$ and
# 2.90. So from this start gradient descent is stable only for $\eta < 2/\lambda_\mathrm{max} =
# 0.0095$, and the article's $\eta = 0.01$ is just past that.
#
# ## 3. Why the article's loss first climbs
#
# At $\eta = 0.01$ the limit is $2/\eta = 200$, and $\lambda_\mathrm{max} = 211$ is above it. Along
# $v$ each step multiplies the distance to the bottom by $|1 - 0.01 \times 211| = 1.11$. The
# gradient along $v$, $g \cdot v = \lambda_\mathrm{max} c$, grows by the same factor. The next
# steepest direction, of curvature 115.9, is well inside the limit: each step multiplies its
# distance by $|1 - 1.159| = 0.16$. Along every other direction, whose curvatures lie between
# $-2.9$ and 2.9, a step changes the distance by 3% at most.
#
# The table follows the first 40 steps of the article's run. Before each step, power iteration
# measures $\lambda_\mathrm{max}$ and $v$ again, starting from the last step's $v$, which is
# already close. The columns:
#
# - $\lambda_\mathrm{max}$;
# - the growth predicted for $g \cdot v$, $|1 - \eta\lambda_\mathrm{max}|$;
# - the growth measured, $|g_{t+1} \cdot v_t| \,/\, |g_t \cdot v_t|$;
# - the loss;
# - the share of the loss that lies along $v$,
#   $\tfrac12\lambda_\mathrm{max} c^2 / L = (g \cdot v)^2 / (2\lambda_\mathrm{max} L)$, taking
#   the bowl's bottom at zero loss.


# %%
def sgd_with_curvature(params, X, y, lr: float, steps: int, iterations: int = 20):
    """``steps`` steps of SGD at ``lr`` from a copy of ``params``, measuring before each step the
    top curvature ``lambda_max`` and its direction ``v`` (power iteration, each started from the
    last ``v``), the loss and the gradient ``g``.

    Returns a dict of arrays over the steps ``t = 0 .. steps``: ``curvature``, ``loss``,
    ``along_v`` (``g_t . v_t``) and ``growth`` (``|g_{t+1} . v_t| / |g_t . v_t|``, one shorter).
    It stops where the loss or the curvature overflows.
    """
    params = {name: p.copy() for name, p in params.items()}
    optimizer, v = sm.SGD(lr=lr), None
    curvatures, losses, directions, gradients = [], [], [], []
    with np.errstate(all="ignore"):  # a run that diverges overflows on its way to inf
        for _ in range(steps + 1):
            loss, grads = sm.loss_and_grads(params, X, y, sm.mse_loss)
            if not np.isfinite(loss):
                break
            curvature, v = top_curvature(params, X, y, v, 60 if v is None else iterations)
            if not np.isfinite(curvature):
                break
            curvatures.append(curvature)
            losses.append(float(loss))
            directions.append(v)
            gradients.append(flat(grads))
            optimizer.step(params, grads)
    along_v = np.array([g @ v for g, v in zip(gradients, directions, strict=True)])
    along_v_next = np.array([g @ v for g, v in zip(gradients[1:], directions, strict=False)])
    return {
        "curvature": np.array(curvatures),
        "loss": np.array(losses),
        "along_v": along_v,
        "growth": np.abs(along_v_next) / np.abs(along_v[: len(along_v_next)]),
    }


CLIMB_LR = 0.01  # the article's
CLIMB_ROWS = (0, 1, 2, 5, 10, 15, 19, 20, 21, 25, 30, 39)

if __name__ == "__main__":
    climb = sgd_with_curvature(params_init, X, y, CLIMB_LR, steps=40)
    print("step  lambda_max  predicted growth  measured growth   loss   share along v")
    for t in CLIMB_ROWS:
        curvature, loss = climb["curvature"][t], climb["loss"][t]
        predicted = abs(1 - CLIMB_LR * curvature)
        share = climb["along_v"][t] ** 2 / (2 * curvature * loss)
        print(
            f"{t:4d} {curvature:11.1f} {predicted:17.3f} {climb['growth'][t]:16.3f} {loss:7.3f} "
            f"{share:14.0%}"
        )
    peak = int(np.argmax(climb["loss"]))
    crossing = int(np.argmax(climb["curvature"] < 2 / CLIMB_LR))
    print(
        f"the loss peaks at step {peak} ({climb['loss'][peak]:.2f}); "
        f"lambda_max is first below 2/lr = {2 / CLIMB_LR:.0f} at step {crossing}"
    )
    # The first step, seen along the second-steepest direction of the whole Hessian
    params = {name: p.copy() for name, p in params_init.items()}
    for t in range(2):
        curvatures, directions = np.linalg.eigh(hessian(params, X, y))
        loss, grads = sm.loss_and_grads(params, X, y, sm.mse_loss)
        share = (flat(grads) @ directions[:, -2]) ** 2 / (2 * curvatures[-2] * loss)
        print(
            f"step {t}: the second-steepest direction, curvature {curvatures[-2]:.1f}, "
            f"holds {share:.0%} of the loss"
        )
        sm.SGD(lr=CLIMB_LR).step(params, grads)

# %% tags=["fold"]
# Plotting: the loss and lambda_max over the article's first 40 steps
if __name__ == "__main__":
    fig = sm.new_figure(figsize=(8, 4.6))
    if fig is not None:
        top, bottom = fig.subplots(2, 1, sharex=True)
        top.semilogy(climb["loss"], "o-", ms=3, color="C0")
        top.axvline(peak, color="0.5", ls=":", lw=1)
        top.set(ylabel="MSE loss (log scale)")
        top.set_title(f"SGD at the article's lr = {CLIMB_LR}", fontsize=10)
        bottom.plot(climb["curvature"], "o-", ms=3, color="C1", label=r"$\lambda_{max}$")
        bottom.axhline(2 / CLIMB_LR, color="C3", ls="--", lw=1, label=r"$2/\eta = 200$")
        bottom.axvline(peak, color="0.5", ls=":", lw=1, label=f"the loss's peak, step {peak}")
        bottom.set(xlabel="step", ylabel="largest curvature")
        bottom.legend(fontsize=8)
        sm.save_figure(
            fig,
            "ss_climb.png",
            alt=(
                "Two panels over the first 40 steps at learning rate 0.01. Top, the loss on a log "
                "scale: it drops from 1.6 to 0.75 at step 1, climbs to 8.4 at step 20, then "
                "falls to about 0.5 by step 40. Bottom, the largest curvature: it starts at 211, "
                "drifts down and crosses the dashed line 2 over eta = 200 at the loss's peak, and "
                "levels off near 188."
            ),
        )

# %% [markdown]
# The prediction holds. Over the first steps, $g \cdot v$ grows by 1.107 per step, against 1.109
# predicted. The first step lowers the loss, from 1.59 to 0.75, because it all but removes the
# part along the second-steepest direction, which held 60% of the loss (3% after the step). From
# then on the growing direction takes over, until 97% of the loss lies along $v$. Meanwhile the
# steps move $W_1$ and $b_1$ and flatten the bowl: $\lambda_\mathrm{max}$ drifts down, from 210.9
# to 201.5 at step 20, and is below 200 from step 21. The loss peaks at step 20, at 8.40, the
# last step with $\lambda_\mathrm{max}$ above $2/\eta$. From there the distance along $v$ shrinks
# too, and the loss falls. In the pictures of section 1, the run starts in the right panel and,
# as $\lambda_\mathrm{max}$ falls below 200, moves to the middle one.
#
# ## 4. The edge of the learning rate
#
# By section 2, SGD from this start is stable only for $\eta < 2/\lambda_\mathrm{max} = 0.0095$.
# Yet the article's $\eta = 0.01$ is past that, and it trains. How much further can one go? The
# table below runs SGD from the article's start for 500 steps, at every $\eta$ from 0.006 to
# 0.026 in steps of 0.0005, and gives the loss it reaches. "Diverged" means that the loss
# overflowed to infinity before step 500; `train` stops there. A run that did not diverge has
# not necessarily trained well: the table gives its loss.


# %%
def sgd_losses(params, X, y, lr: float, steps: int = 500):
    """``(losses, params_end)`` after ``steps`` steps of SGD at ``lr`` from a copy of ``params``.
    If the run diverges (a loss overflows), ``losses`` ends before that step and ``params_end``
    is None."""
    params, losses = {name: p.copy() for name, p in params.items()}, []

    def log(step, loss, params):
        losses.append(loss)

    try:
        sm.train(params, X, y, sm.mse_loss, sm.SGD(lr=lr), steps, on_step=log)
    except FloatingPointError:
        return np.array(losses), None
    return np.array(losses), params


def final_losses(params, X, y, rates, steps: int = 500) -> np.ndarray:
    """The loss after ``steps`` steps of SGD at each rate, ``inf`` where the run diverged."""
    final = []
    for lr in rates:
        losses, params_end = sgd_losses(params, X, y, lr, steps)
        final.append(losses[-1] if params_end is not None else np.inf)
    return np.array(final)


def edge(rates, final):
    """``(last, first, all_from)``: the largest rate up to which no run diverged, the first rate
    that diverged, and the rate from which every run diverged."""
    rates, diverged = np.asarray(rates), ~np.isfinite(final)
    first = rates[np.argmax(diverged)]
    last = rates[rates < first].max()
    all_from = rates[rates > rates[~diverged].max()].min()
    return float(last), float(first), float(all_from)


EDGE_RATES = np.round(np.linspace(0.006, 0.026, 41), 4)  # steps of 0.0005
BUMPS_FROM = 0.015  # the sweep's rates above this, up to the edge: the text compares them

if __name__ == "__main__":
    final = final_losses(params_init, X, y, EDGE_RATES)
    cells = [
        f"{lr:7.4f} {loss:10.3f}  " if np.isfinite(loss) else f"{lr:7.4f} {'diverged':>10}  "
        for lr, loss in zip(EDGE_RATES, final, strict=True)
    ]
    rows = -(-len(cells) // 3)  # three columns, read down
    print("    lr   after 500" * 3)
    for i in range(rows):
        print("".join(cells[i::rows]))
    last, first, all_from = edge(EDGE_RATES, final)
    print(
        f"no rate up to {last} diverges; the first to diverge is {first},\n"
        f"{first / (2 / curvature_init):.2f} times 2/lambda_max at the start, "
        f"{2 / curvature_init:.4f}, that is {first * curvature_init:.1f}/lambda_max"
    )
    at_article = final[EDGE_RATES == CLIMB_LR][0]
    late = (EDGE_RATES > BUMPS_FROM) & (EDGE_RATES <= last)
    higher = late & (final > at_article)
    print(
        f"from {EDGE_RATES[late][0]} to {last}, against {at_article:.3f} at lr = {CLIMB_LR}: "
        f"higher at {higher.sum()} rates,\n  "
        + ", ".join(
            f"{lr:g} ({loss:.3f})"
            for lr, loss in zip(EDGE_RATES[higher], final[higher], strict=True)
        )
        + f";\nlower at the other {(late & ~higher).sum()}, lowest {final[late].min():.3f} "
        f"at {EDGE_RATES[late][np.argmin(final[late])]:g}"
    )
    between = (EDGE_RATES >= first) & (EDGE_RATES < all_from)
    print(
        f"from {first} to {all_from}: diverged at "
        + ", ".join(f"{lr:g}" for lr in EDGE_RATES[between & ~np.isfinite(final)])
        + "; did not diverge at "
        + ", ".join(f"{lr:g}" for lr in EDGE_RATES[between & np.isfinite(final)])
        + f";\nevery rate from {all_from} diverges"
    )
    best = int(np.argmin(final))
    print(f"lowest loss after 500 steps: {final[best]:.3f}, at lr = {EDGE_RATES[best]}")

# %% tags=["fold"]
# Plotting: the loss after 500 steps against the learning rate, and where it diverges
if __name__ == "__main__":
    fig = sm.new_figure(figsize=(8, 4.0), layout="constrained")
    if fig is not None:
        strip, ax = fig.subplots(2, 1, sharex=True, height_ratios=[1, 7])
        ok = np.isfinite(final)
        ax.semilogy(EDGE_RATES[ok], final[ok], "o", ms=4, color="C0", label="did not diverge")
        # A diverged run has no loss to plot: it gets a cross in a strip of its own.
        strip.plot(EDGE_RATES[~ok], np.zeros((~ok).sum()), "x", color="C3", ms=7)
        strip.set(yticks=[], ylim=(-1, 1))
        strip.set_ylabel("diverged", rotation=0, ha="right", va="center", fontsize=9)
        limit = 2 / curvature_init
        half = (EDGE_RATES[1] - EDGE_RATES[0]) / 2
        for panel in (strip, ax):
            panel.axvline(limit, color="0.4", ls=":")
            panel.axvspan(first - half, all_from - half, color="C3", alpha=0.1)
        ax.plot([], [], color="0.4", ls=":", label=rf"$2/\lambda_{{max}}$ at start = {limit:.4f}")
        ax.fill_between([], [], color="C3", alpha=0.1, label="mixed outcomes")
        ax.axhline(at_article, color="0.6", lw=0.8, label=f"the loss at lr = {CLIMB_LR}")
        ax.set(xlabel=r"learning rate $\eta$", ylabel="loss after 500 steps (log scale)")
        ax.set_ylim(0.04, 0.3)
        strip.set_title("SGD from the article's start, 500 steps at each rate", fontsize=10)
        ax.legend(fontsize=8, loc="upper left")
        sm.save_figure(
            fig,
            "ss_edge.png",
            alt=(
                "The loss after 500 steps of SGD against the learning rate, from 0.006 to 0.026, "
                "with a thin strip above the plot where crosses mark the runs that diverged. A "
                "dotted line marks 2 over lambda max at the start, 0.0095, and a grey line the "
                "loss at the article's rate, 0.104. The loss falls from 0.13 to about 0.1 by "
                "0.011 and stays near 0.1 to 0.015. From there it is uneven: lower, down to "
                "0.069, at most rates, but with bumps above the grey line, 0.13 at 0.0155 and "
                "0.016, and 0.18 and 0.23 at 0.0195 and 0.02. From 0.021 the strip's crosses "
                "begin: a shaded band from 0.021 to 0.024 holds three divergences and three runs "
                "that did not diverge, one to the lowest loss, 0.054; from 0.024 every run "
                "diverges."
            ),
        )

# %% [markdown]
# - No rate up to 0.0205 diverges: that is more than twice $2/\lambda_\mathrm{max}$ at the
#   start.
# - Not diverging is not training well. Up to 0.015 the loss after 500 steps falls with the
#   rate, from 0.132 at 0.006 to 0.092, with a long flat stretch near 0.10. From 0.0155 to 0.0205
#   it is uneven. At seven of those eleven rates it is below the article's 0.104 at
#   $\eta = 0.01$, down to 0.069 at 0.0185 (0.071 at 0.018). At the other four it is higher,
#   the bumps in the figure: 0.132 at 0.0155, 0.128 at 0.016, 0.184 at 0.0195 and 0.234 at 0.02.
# - The first rate to diverge is 0.021, 2.21 times $2/\lambda_\mathrm{max}$ at the start.
# - From 0.021 to 0.024 (shaded) the outcome flips from one rate to the next. 0.021, 0.0215
#   and 0.022 diverge; 0.0225, 0.023 and 0.0235 do not, and 0.0225 reaches the lowest loss of
#   all, 0.054. From 0.024 on, every rate diverges.
#
# So SGD's usable range from this start ends near $\eta = 0.021$, about 2.2 times the limit of
# section 2, and its last stretch is a gamble: near the edge the loss after 500 steps jumps from
# one rate to the next, and the rates that train best sit next to rates that blow up.
#
# ## 5. The catapult
#
# Why does a rate beyond $2/\lambda_\mathrm{max}$ train at all? Because $\lambda_\mathrm{max}$ is
# not a constant of the problem. It is the curvature *where the parameters are*, and the steps
# move them. Lewkowycz et al. (2020, "The large learning rate phase of deep learning: the catapult
# mechanism") named what happens when $\eta$ starts above $2/\lambda_\mathrm{max}$ the
# **catapult**:
#
# 1. The loss climbs, fast, as section 1 predicts for $\eta\lambda > 2$.
# 2. A large loss means large gradients, hence large steps, and the large steps carry the
#    parameters to where the loss is flatter, until $\lambda_\mathrm{max}$ falls below $2/\eta$.
# 3. From there the loss comes down, and training goes on in the flatter region.
#
# Their $\lambda$ is the top eigenvalue of the *neural tangent kernel*. For a squared error that
# is the top eigenvalue of the Hessian without its terms in the residuals $\mathrm{out} - y$, and
# here it nearly equals $\lambda_\mathrm{max}$: the output layer's part alone, measured below, is
# 204.5 of the 210.9. In the small model that they solve exactly, a two-layer linear network, the
# catapult works up to $\eta = 4/\lambda$ at the start, twice the limit of section 2. Past that,
# the loss grows faster than the steps can flatten it, and it diverges. For wide ReLU networks
# they found, by experiment, that training goes on up to about $12/\lambda$. This narrow
# network, of one input and 64 units, stops far earlier: 0.021 is $4.4/\lambda_\mathrm{max}$ at
# the start. That it lands near their linear model's $4/\lambda$ is no evidence that their model
# describes it: the networks closer to it in kind, with ReLU, went nearly three times further.
# Below are the first 40 steps at $\eta = 0.018$, where $2/\eta = 111$ is far below
# $\lambda_\mathrm{max} = 211$, and at 0.021, the first rate that diverged.


# %%
CATAPULT_RATES = (0.018, 0.021)
CATAPULT_ROWS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 40)

if __name__ == "__main__":
    catapults = {lr: sgd_with_curvature(params_init, X, y, lr, steps=40) for lr in CATAPULT_RATES}
    print("      " + "".join(f"   lr = {lr} (2/lr = {2 / lr:.0f})    " for lr in CATAPULT_RATES))
    print("step" + "   lambda_max        loss    " * len(CATAPULT_RATES))
    for t in CATAPULT_ROWS:
        cells = []
        for run in catapults.values():
            if t < len(run["loss"]):
                cells.append(f"{run['curvature'][t]:13.1f} {run['loss'][t]:11.4g}    ")
            else:
                cells.append(f"{'':13s} {'diverged':>11s}    ")
        print(f"{t:4d}" + "".join(cells))
    run = catapults[0.018]
    below = int(np.argmax(run["curvature"] < 2 / 0.018))
    print(
        f"lr = 0.018: the loss peaks at step {int(np.argmax(run['loss']))}; lambda_max is first "
        f"below 2/lr at step {below};\nthe loss falls at every step from there on: "
        f"{bool(np.all(np.diff(run['loss'][below:]) < 0))}"
    )
    losses_past_edge, _ = sgd_losses(params_init, X, y, 0.021, steps=40)
    print(f"lr = 0.021: the loss overflows at step {len(losses_past_edge)}")

# %% tags=["fold"]
# Plotting: the catapult at lr = 0.018, and a run past the edge at 0.021
if __name__ == "__main__":
    fig = sm.new_figure(figsize=(8, 4.6))
    if fig is not None:
        top, bottom = fig.subplots(2, 1, sharex=True)
        for (lr, run), color in zip(catapults.items(), ["C0", "C3"], strict=True):
            shown = np.flatnonzero(run["loss"] < 1e5)  # up to where the loss leaves the plot
            top.semilogy(shown, run["loss"][shown], "o-", ms=3, color=color, label=f"lr = {lr}")
            label = rf"$\lambda_{{max}}$, lr = {lr}"
            bottom.plot(shown, run["curvature"][shown], "o-", ms=3, color=color, label=label)
            bottom.axhline(2 / lr, color=color, ls="--", lw=1, label=rf"$2/\eta$ = {2 / lr:.0f}")
        top.set(ylabel="MSE loss (log scale)", ylim=(0.1, 1e5))
        top.legend(fontsize=8)
        bottom.set(xlabel="step", ylabel="largest curvature", ylim=(0, 450))
        bottom.legend(fontsize=8, ncols=2)
        sm.save_figure(
            fig,
            "ss_catapult.png",
            alt=(
                "Two panels over 40 steps, for learning rates 0.018 and 0.021. Top, the loss on a "
                "log scale: at 0.018 it climbs from 1.6 to 965 at step 4, drops to about 6 by "
                "step 6 and then falls steadily to 0.35; at 0.021 it climbs to 1262, drops to 21, "
                "climbs again and passes 10,000 at step 10. Bottom, the largest curvature: at "
                "0.018 it rises from 211 to 287 at step 4, drops to 116 at step 5 and settles "
                "near 101, just below its dashed line 2 over eta = 111; at 0.021 it drops only to "
                "235, then rises off the plot, far above its line at 95."
            ),
        )

# %% [markdown]
# At $\eta = 0.018$ the loss climbs from 1.59 to 965 in four steps. $\lambda_\mathrm{max}$ even
# rises on the way, to 287, but at step 5 it drops to 116, and the loss to 49, then to 6.2. Then
# $\lambda_\mathrm{max}$ drifts down, and from step 9 on it is below $2/\eta = 111$: from there
# the loss falls at every step, to 0.65 at step 20 and 0.35 at step 40. At 0.021 the first
# catapult nearly works: the loss falls from 1262 to 21 at step 5. But $\lambda_\mathrm{max}$ is
# still 235, above $2/\eta = 95$. The climb starts again, the curvature grows with it, 491 at
# step 8 and 924 at step 10, and the loss overflows at step 16.
#
# **Why the curvature falls.** Most of $\lambda_\mathrm{max}$ belongs to the output layer. The
# loss is exactly quadratic in $W_2$ and $b_2$: $\mathrm{out} = A_1 W_2 + b_2$ is linear in them,
# and the mean squared error of a linear function is a bowl. Its Hessian there is
# $2 J^\top J / N$, with $J = [A_1 \;\; 1]$, the hidden activations and a column of ones for the
# bias. The largest eigenvalue of that matrix, the output layer's curvature, grows with the size of
# the hidden activations. The steps of the climb are the largest of the run, and they change the
# first layer. The table follows the run at 0.018: the output layer's curvature,
# $\lambda_\mathrm{max}$, the mean of $A_1^2$, and the hidden units that output 0 for every $x$
# (a unit that is off for every input passes no gradient, and [When it
# breaks](../failure_modes/) calls it dead).


# %%
def output_layer_curvature(params, X) -> float:
    """The largest curvature of the loss in the output layer's weights and bias alone.

    The loss is exactly quadratic in them: with ``J = [A1, 1]`` (N, H + 1), its Hessian there is
    ``2 J^T J / N``.
    """
    A1 = np.maximum(0, X @ params["W1"] + params["b1"])  # (N, H)
    J = np.hstack([A1, np.ones((len(X), 1))])  # (N, H + 1)
    return float(np.linalg.eigvalsh(2 * J.T @ J / len(X))[-1])


if __name__ == "__main__":
    run = catapults[0.018]
    params = {name: p.copy() for name, p in params_init.items()}
    optimizer = sm.SGD(lr=0.018)
    print("step  output layer's curvature  lambda_max  mean A1^2  units off for every x")
    for t in range(7):
        A1 = np.maximum(0, X @ params["W1"] + params["b1"])
        print(
            f"{t:4d} {output_layer_curvature(params, X):25.1f} {run['curvature'][t]:11.1f} "
            f"{np.mean(A1**2):10.2f} {int((A1 == 0).all(axis=0).sum()):13d} of {A1.shape[1]}"
        )
        optimizer.step(params, sm.loss_and_grads(params, X, y, sm.mse_loss)[1])

# %% [markdown]
# At the start the output layer holds 204.5 of the 210.9. By step 6 the climb's large steps have
# shrunk the hidden activations (the mean of $A_1^2$ falls from 2.48 to 0.86) and switched 28 of
# the 64 units off for every input. The output layer's curvature follows them down, to 111.9 at
# step 5, and $\lambda_\mathrm{max}$ with it. At the height of the climb, step 4,
# $\lambda_\mathrm{max}$ (287) is well above the output layer's part (150.6): far from any
# minimum, at a loss of 965, the other layers curve sharply too.
#
# **Where training ends.** In each of these runs, $\lambda_\mathrm{max}$ after 500 steps is below
# $2/\eta$. The larger the rate, the flatter the place where training goes on:


# %%
END_RATES = (0.01, 0.014, 0.018, 0.0205)

if __name__ == "__main__":
    print("    lr   2/lr   largest loss (step)   loss after 500   lambda_max after 500")
    for lr in END_RATES:
        losses, params_end = sgd_losses(params_init, X, y, lr, steps=500)
        curvature_end = top_curvature(params_end, X, y)[0]
        print(
            f"{lr:6.4f} {2 / lr:6.0f} {losses.max():13.1f} ({int(np.argmax(losses)):2d}) "
            f"{losses[-1]:16.3f} {curvature_end:22.1f}"
        )
    print()
    for lr in (0.01, 0.018):
        losses, params_end = sgd_losses(params_init, X, y, lr, steps=2001)
        print(
            f"lr = {lr}: after 2001 steps loss {losses[-1]:.4f}, lambda_max "
            f"{top_curvature(params_end, X, y)[0]:.1f}, 2/lr = {2 / lr:.0f}"
        )

# %% [markdown]
# $\lambda_\mathrm{max}$ ends at 190 for $\eta = 0.01$, 108 for 0.018, and 11 after the largest
# catapult, at 0.0205: the large rates leave the sharp region of the start for a flatter one, as
# Lewkowycz et al. found. Over longer runs, Cohen et al. (2021, "Gradient descent on neural
# networks typically occurs at the edge of stability") found that full-batch gradient descent
# tends to sharpen the loss again as it trains. $\lambda_\mathrm{max}$ rises until it reaches
# $2/\eta$, then hovers there, at the *edge of stability*, while the loss keeps falling, though
# not at every step. On this small network the rise is slow. At $\eta = 0.01$,
# $\lambda_\mathrm{max}$ goes from 188 after the climb to 191.4 after 2001 steps, still below 200;
# at 0.018 it ends at 105.4, below 111.
#
# ## What this shows
#
# - Gradient descent multiplies the distance to the bottom along each eigenvector of the Hessian
#   by $1 - \eta\lambda$. A rate below $2/\lambda_\mathrm{max}$ keeps every direction stable.
# - $\lambda_\mathrm{max}$ belongs to the point, not to the problem, and changes as the parameters
#   move. The article's loss climbs from step 1 to its peak at step 20 because
#   $\lambda_\mathrm{max} = 211$ starts just above $2/\eta = 200$, and the steps pull it below.
# - Past that limit SGD can still train, by the catapult: the loss climbs until its large steps
#   have brought $\lambda_\mathrm{max}$ below $2/\eta$. From the article's start this works up
#   to $\eta \approx 0.021$, 2.2 times $2/\lambda_\mathrm{max}$, with a ragged edge. The best
#   rates sit close to it.
# - So $2/\lambda_\mathrm{max}$ at the start is a safe rate, not the largest usable one. A sweep
#   finds the edge, and near the edge small changes flip the outcome.
#
# Next: [Optimizers you can see](../optimizers/) takes one learning rate to a loss whose
# curvatures differ fifty-fold, and shows what momentum, RMSProp and Adam do about it, on a bowl
# you can see and on the article's network. [When it breaks](../failure_modes/) shows rates far
# too large and far too small, and [the training loop](../scratch_mlp/) is where it all starts.
