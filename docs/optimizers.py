# %% [markdown]
# # Optimizers you can see
#
# Plain gradient descent, SGD, takes one learning rate $\eta$ for every parameter:
# $\theta \leftarrow \theta - \eta\, g$. [The step size and curvature](../step_size/) shows what
# caps that rate. Along a direction of curvature $\lambda$ each step multiplies the distance to
# the bottom by $1 - \eta\lambda$, so the steepest direction needs $\eta < 2/\lambda_\mathrm{max}$.
# On a loss that is steep in one direction and flat in another, a rate that is safe for the steep
# direction crawls along the flat one. This page takes three fixes, momentum, RMSProp and Adam,
# and watches each one on a bowl of two parameters, where a path can be drawn. Then it runs
# them on the article's network: Adam's first steps, and which learning rates work for SGD and
# for Adam.
#
# **You need** plain SGD, as [the training loop](../scratch_mlp/) builds it. The classes
# `SGD(lr, momentum)`, `RMSProp` and `Adam` in `scratch_mlp.py` implement the update rules below,
# each under its equation. **To run it**, type `python -m docs.optimizers` in the project root. It
# prints every number on this page and writes the figures into `figures/`; importing it runs
# nothing.

# %% tags=["fold"]
# Imports
from __future__ import annotations

from itertools import pairwise

import numpy as np

import scratch_mlp as sm

try:  # from the project root: python -m docs.optimizers, and the site's build
    from docs import step_size
except ImportError:  # the downloaded notebook, in one folder with step_size.py
    import step_size

# %% [markdown]
# ## 1. One learning rate for two curvatures
#
# The bowl is $L(\theta) = \tfrac12\, \theta^\top A\, \theta$ for a $\theta$ of two numbers. Its
# gradient is $A\theta$, and its bottom is at $\theta = 0$. $A$ has curvature 10 along one axis
# and 0.2 along the other, and the axes are turned by 30°, so that neither lines up with
# $\theta_1$ or $\theta_2$. The ratio of the largest curvature to the smallest, here 50, is the
# **condition number**: the larger it is, the narrower the valley. SGD must keep
# $\eta < 2/10 = 0.2$ for the steep direction, and then the flat direction shrinks by only
# $1 - 0.2\,\eta$ per step. The `SGD`, `RMSProp` and `Adam` classes that train the network take
# this two-number $\theta$ as well. Here is SGD at $\eta = 0.18$, close to its limit, and the
# distance to the bottom along each axis:


# %%
def tilted_bowl(curvatures=(10.0, 0.2), degrees: float = 30.0):
    """``(A, axes)`` of the bowl ``L = theta^T A theta / 2``: its curvatures along two axes at
    right angles, turned by ``degrees``. Column k of ``axes`` is the direction of curvature k."""
    angle = np.radians(degrees)
    axes = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return axes @ np.diag(curvatures) @ axes.T, axes


A, AXES = tilted_bowl()
START = (-4.0, 1.0)


def descend(optimizer, steps: int = 60, start=START) -> np.ndarray:
    """The path of ``theta`` under ``optimizer`` on the bowl, ``(steps + 1, 2)``."""
    theta = np.array([start])  # (1, 2): a row, like a layer's bias
    path = [theta[0].copy()]
    for _ in range(steps):
        optimizer.step({"theta": theta}, {"theta": theta @ A})  # the gradient is A theta
        path.append(theta[0].copy())
    return np.array(path)


def bowl_loss(path) -> np.ndarray:
    """``theta^T A theta / 2`` at each point of a path."""
    return 0.5 * np.einsum("ni,ij,nj->n", path, A, path)


if __name__ == "__main__":
    print(f"curvatures {np.linalg.eigvalsh(A)[::-1]}, condition number {np.linalg.cond(A):.0f}")
    sgd_path = descend(sm.SGD(lr=0.18))
    along = sgd_path @ AXES  # the distance to the bottom along each axis: (steep, flat)
    for t in (0, 1, 2, 3, 10, 30, 60):
        print(
            f"step {t:2d}  steep {along[t, 0]:+.4f}  flat {along[t, 1]:+.4f}  "
            f"loss {bowl_loss(sgd_path)[t]:.4f}"
        )

# %% [markdown]
# Along the steep axis SGD zigzags: the distance flips sign at every step and shrinks by
# $|1 - 0.18 \times 10| = 0.8$. Along the flat axis it shrinks by $1 - 0.18 \times 0.2 = 0.964$ per
# step: after 60 steps 0.32 of the starting 2.87 is left, and nearly all the loss that remains
# lies there.
#
# ## 2. Momentum
#
# **Momentum** keeps a running sum of the gradients, $u_t$, the velocity, and steps along it
# instead of along the gradient:
#
# $$u_t = \mu\, u_{t-1} + g_t, \qquad \theta_t = \theta_{t-1} - \eta\, u_t ,$$
#
# with $u_0 = 0$ and $\mu$ between 0 and 1 (`SGD(lr, momentum=mu)`; $\mu = 0$ is plain SGD). If
# the gradient keeps its direction and size, $u$ grows towards $g / (1 - \mu)$: with $\mu = 0.8$,
# five times the gradient, as if $\eta$ were five times larger. Along the flat axis that is what
# happens. Along the steep axis the gradient changes sign whenever $\theta$ crosses the valley
# floor, but the velocity does not turn at once: it carries $\theta$ past the floor, and back
# again. Here are $\mu = 0.8$ and $\eta = 0.05$:


# %%
def swings(c):
    """``(crossings, decay)`` of a path ``c_t`` along one axis that swings across 0: the steps
    after which it changes sign, and the factor per step by which the height of its swings
    shrinks (fitted to the highest point between each two crossings)."""
    crossings = np.flatnonzero(np.diff(np.sign(c)))
    peaks = [a + 1 + np.argmax(np.abs(c[a + 1 : b + 1])) for a, b in pairwise(crossings)]
    slope = np.polyfit(peaks, np.log(np.abs(c[peaks])), 1)[0]
    return crossings, float(np.exp(slope))


if __name__ == "__main__":
    momentum_path = descend(sm.SGD(lr=0.05, momentum=0.8))
    steep, flat = (momentum_path @ AXES).T
    crossings, decay = swings(steep)
    print(
        f"steep axis: crosses the floor {len(crossings)} times in 60 steps, once every "
        f"{np.diff(crossings).mean():.2f} steps;\n            each swing's height shrinks by "
        f"{decay:.3f} a step"
    )
    print(
        f"flat axis:  shrinks by {flat[60] / flat[59]:.3f} per step at the end "
        f"(SGD at 0.18: {along[60, 1] / along[59, 1]:.3f}); after 60 steps {flat[60]:.3f}"
    )
    momentum_loss, sgd_loss = bowl_loss(momentum_path)[60], bowl_loss(sgd_path)[60]
    print(
        f"loss after 60 steps: momentum {momentum_loss:.2e}, SGD {sgd_loss:.2e}, "
        f"{sgd_loss / momentum_loss:.0f} times higher"
    )
    for name, curvature in (("steep", 10.0), ("flat", 0.2)):
        # The roots of r^2 - (1 + mu - lr lambda) r + mu: the box below says why
        roots = np.roots([1, -(1 + 0.8 - 0.05 * curvature), 0.8])
        print(
            f"roots, {name} axis: {roots.round(3)}, size {np.abs(roots).round(3)}, angle "
            f"{np.degrees(np.abs(np.angle(roots[0]))):.1f} degrees"
        )
    mu = 0.8
    print(
        f"mu = {mu}: complex roots for lr * lambda from {(1 - np.sqrt(mu)) ** 2:.4f} to "
        f"{(1 + np.sqrt(mu)) ** 2:.3f}; stable for lr * lambda < 2 (1 + mu) = {2 * (1 + mu):.1f}"
    )
    for lr in (0.35, 0.37):  # on either side of 2 (1 + mu) / lambda_max = 0.36
        loss = bowl_loss(descend(sm.SGD(lr=lr, momentum=mu)))
        print(
            f"momentum {mu}, lr {lr}: loss after 60 steps {loss[-1]:.2e} "
            f"(at the start {loss[0]:.1f})"
        )

# %% tags=["fold"]
# Plotting: the distance to the bottom along each axis, for SGD and momentum
if __name__ == "__main__":
    fig = sm.new_figure(figsize=(9, 3.4))
    if fig is not None:
        left, right = fig.subplots(1, 2)
        left.plot(along[:, 0], "o-", ms=3, lw=1, color="C0", label="SGD, lr 0.18")
        left.plot(steep, "o-", ms=3, lw=1, color="C1", label="momentum 0.8, lr 0.05")
        left.axhline(0, color="0.6", lw=0.8)
        left.set(xlabel="step", ylabel="distance to the bottom", xlim=(0, 30))
        left.set_title("Steep axis (curvature 10)", fontsize=10)
        left.legend(fontsize=8)
        right.plot(along[:, 1], color="C0", label="SGD, lr 0.18")
        right.plot(flat, color="C1", label="momentum 0.8, lr 0.05")
        right.set(xlabel="step", ylim=(0, 3))
        right.set_title("Flat axis (curvature 0.2)", fontsize=10)
        right.legend(fontsize=8)
        sm.save_figure(
            fig,
            "opt_momentum.png",
            alt=(
                "Two panels of the distance to the bottom against the step. Steep axis, first 30 "
                "steps: SGD flips sign at every step and shrinks quickly; momentum swings "
                "slowly from one side to the other, crossing zero about every four steps, each "
                "swing smaller. Flat axis, 60 steps: both fall smoothly from 2.9; momentum is "
                "slower for the first ten steps, then faster, and ends at 0.06 against SGD's 0.32."
            ),
        )

# %% [markdown]
# Along the steep axis, momentum does not zigzag at every step. It swings across the valley and
# back, crossing the floor about every four steps, and each swing is lower than the last: a
# **damped oscillation**, shrinking by 0.894 per step. That is slower than SGD's 0.8. Along the
# flat axis, where the loss remains, momentum is faster: 0.927 per step against 0.964. After 60
# steps its loss is 28 times lower than SGD's.

# %% [markdown] tags=["deeper"]
# **Going deeper: where 0.894 and 0.927 come from.** Along an axis of curvature $\lambda$, write
# $c_t$ for the distance to the bottom; the gradient there is $\lambda c_t$. From
# $\theta_t - \theta_{t-1} = -\eta u_t$ and $u_t = \mu u_{t-1} + g_t$:
#
# $$c_{t+1} = (1 + \mu - \eta\lambda)\, c_t - \mu\, c_{t-1} .$$
#
# Try $c_t = r^t$: then $r^2 - (1 + \mu - \eta\lambda)\, r + \mu = 0$. On the steep axis
# ($\eta\lambda = 0.5$) the roots are complex, $0.65 \pm 0.614i$. Their size is
# $\sqrt{\mu} = 0.894$, the shrinking per step, and their angle, 43.4°, makes a full swing every
# $360/43.4 = 8.3$ steps, so the floor is crossed every 4.15 steps. On the flat axis
# ($\eta\lambda = 0.01$) the roots are real, 0.927 and 0.863, and the larger one sets the pace.
#
# The roots are complex where $(1 + \mu - \eta\lambda)^2 < 4\mu$, that is for
#
# $$(1 - \sqrt{\mu})^2 < \eta\lambda < (1 + \sqrt{\mu})^2 ,$$
#
# from 0.0111 to 3.589 for $\mu = 0.8$. Only there is the size of both roots $\sqrt{\mu}$,
# whatever $\eta$, and the swings shrink by $\sqrt{\mu}$ per step; in that range a larger $\mu$
# speeds up the flat axis and slows the damping of the steep one. Below it the roots are real and
# positive, and $c$ slides to the bottom without swinging, as on the flat axis. Above it they are
# real and negative, and the smaller passes $-1$ where $1 + (1 + \mu - \eta\lambda) + \mu = 0$:
# momentum is stable only for $\eta\lambda < 2(1 + \mu)$, that is $\eta < 2(1 + \mu)/\lambda$,
# against $2/\lambda$ without it. On this bowl, with $\mu = 0.8$, that limit is
# $3.6/10 = 0.36$, where SGD's is 0.2: at $\eta = 0.35$ the loss after 60 steps is
# $2.2 \times 10^{-4}$, and at 0.37 it is $1.3 \times 10^{15}$. Goh's "Why Momentum Really
# Works" (Distill, 2017) draws all this in full.

# %% [markdown]
# ## 3. RMSProp
#
# **RMSProp** divides each coordinate's step by the root of a running mean of that coordinate's
# squared gradient:
#
# $$v_t = \alpha\, v_{t-1} + (1 - \alpha)\, g_t^2, \qquad
#   \theta_t = \theta_{t-1} - \eta\, \frac{g_t}{\sqrt{v_t} + \epsilon} ,$$
#
# where the square, the root and the division act entry by entry, $v_0 = 0$, $\alpha = 0.99$,
# and $\epsilon = 10^{-8}$ only guards against dividing by zero (`RMSProp(lr, alpha, eps)`).
# $\sqrt{v_t}$ is the typical size of the coordinate's recent gradients. For a gradient that
# keeps its size, $g_t / \sqrt{v_t}$ tends to $\pm 1$: every coordinate then moves by about
# $\eta$ per step, whether its gradients are large or small. The gradient's size drops out; only
# its sign and its size relative to the recent ones remain.
#
# But $v$ starts at 0, so the early $v_t$ is too small: after one step
# $v_1 = (1 - \alpha)\, g_1^2$, and $\sqrt{v_1} = \sqrt{1 - \alpha}\, |g_1| = 0.1\, |g_1|$. The
# first step is therefore $10\,\eta$, in every coordinate. After $t$ steps of the same gradient,
# $v_t = (1 - \alpha^t)\, g^2$ and the step is $\eta / \sqrt{1 - \alpha^t}$, which reaches
# $\eta$ only over a few hundred steps. The table applies a constant gradient
# $g = (0.001, 50)$, two coordinates 50,000 times apart, and gives each step divided by $\eta$:


# %%
def steady_steps(optimizer, gradient, steps: int) -> np.ndarray:
    """The size of each step, ``|theta_t - theta_{t-1}|``, per coordinate, when the gradient is
    ``gradient`` at every step: ``(steps, len(gradient))``."""
    params = {"theta": np.zeros((1, len(gradient)))}
    sizes = []
    for _ in range(steps):
        before = params["theta"].copy()
        optimizer.step(params, {"theta": np.array([gradient], dtype=float)})
        sizes.append(np.abs(params["theta"][0] - before[0]))
    return np.array(sizes)


STEADY_GRADIENT = (0.001, 50.0)
STEADY_ROWS = (1, 2, 3, 10, 12, 100, 300, 1000)

if __name__ == "__main__":
    lr = 0.01
    optimizers = {
        "RMSProp": sm.RMSProp(lr=lr),
        "Adam": sm.Adam(lr=lr),
        "Adam, no correction": sm.Adam(lr=lr, bias_correction=False),
    }
    steady = {
        label: steady_steps(opt, STEADY_GRADIENT, 1000) / lr for label, opt in optimizers.items()
    }
    print("   t  " + "".join(f"{label:>24s}" for label in steady))
    print("      " + "   g = 0.001      g = 50" * len(steady))
    for t in STEADY_ROWS:
        print(
            f"{t:4d}  "
            + "".join(f"{s[t - 1, 0]:12.3f}{s[t - 1, 1]:12.3f}" for s in steady.values())
        )
    first_step = np.abs(descend(sm.RMSProp(lr=0.3), steps=1)[1] - START)
    print(f"RMSProp's first step on the bowl at lr = 0.3: {first_step.round(4)}")

# %% [markdown]
# RMSProp's first step is $10.0\,\eta$ for both coordinates, its 100th still $1.26\,\eta$, and
# only by the 1000th is it $\eta$, for both alike. On the bowl at $\eta = 0.3$ its first step is
# therefore 3.0 in each coordinate. When the gradients shrink, as they do near a minimum,
# $\sqrt{v_t}$ still remembers the larger ones of the last hundred or so steps, and the steps
# fall below $\eta$.
#
# ## 4. Adam
#
# **Adam** (Kingma & Ba, 2015) keeps both running means: $m$, momentum's velocity as a mean, and
# $v$, RMSProp's mean square. With $g_t$ the gradient at step $t = 1, 2, \ldots$ and
# $m_0 = v_0 = 0$:
#
# $$m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
#   v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2,$$
# $$\hat m_t = \frac{m_t}{1 - \beta_1^t}, \qquad \hat v_t = \frac{v_t}{1 - \beta_2^t}, \qquad
#   \theta_t = \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon} ,$$
#
# with $\beta_1 = 0.9$, $\beta_2 = 0.999$ and $\epsilon = 10^{-8}$ (`Adam(lr, betas, eps)`). The
# division by $1 - \beta^t$ is the **bias correction**. It undoes exactly the start at zero that
# makes RMSProp's first steps too large: for a constant gradient, $m_t = (1 - \beta_1^t)\, g$ and
# $v_t = (1 - \beta_2^t)\, g^2$, so $\hat m_t = g$, $\hat v_t = g^2$, and every step is $\eta$
# from the first, as the table's middle columns show. Without the correction
# (`bias_correction=False`) the step is $(1 - \beta_1^t)/\sqrt{1 - \beta_2^t}$ times $\eta$:
# 3.16 at $t = 1$, 6.57 at $t = 12$, and still 1.26 at $t = 1000$.
#
# ## 5. All four on the bowl
#
# The same start, 60 steps each, each method at one learning rate picked by hand for this bowl:
# 0.18 for SGD, 0.05 for momentum, 0.3 for RMSProp and 0.5 for Adam. Then SGD on either side of
# its limit $2/\lambda_\mathrm{max} = 0.2$, 20 steps each.

# %%
if __name__ == "__main__":
    paths = {
        "SGD, lr 0.18": sgd_path,
        "momentum 0.8, lr 0.05": momentum_path,
        "RMSProp, lr 0.3": descend(sm.RMSProp(lr=0.3)),
        "Adam, lr 0.5": descend(sm.Adam(lr=0.5)),
    }
    for label, path in paths.items():
        first_step = np.abs(path[1] - path[0])
        print(
            f"{label:22s} first step ({first_step[0]:.2f}, {first_step[1]:.2f})   "
            f"loss after 60 steps {bowl_loss(path)[-1]:.2e}"
        )
    edge = {f"SGD, lr {lr}": descend(sm.SGD(lr=lr), steps=20) for lr in (0.19, 0.21)}
    for label, path in edge.items():
        losses = bowl_loss(path)
        print(f"{label:22s} loss after 20 steps {losses[-1]:.2e}  (at the start {losses[0]:.1f})")

# %% tags=["fold"]
# Plotting: the four paths on the bowl, and SGD on either side of 2 / lambda_max
if __name__ == "__main__":
    fig = sm.new_figure(figsize=(10, 6.6))
    if fig is not None:
        axes = fig.subplots(2, 3, sharex=True, sharey=True).ravel()
        grid = np.linspace(-4.5, 4.5, 200)
        g1, g2 = np.meshgrid(grid, grid)
        surface = bowl_loss(np.column_stack([g1.ravel(), g2.ravel()])).reshape(g1.shape)
        panels = list(paths.items()) + list(edge.items())
        colors = ["C0", "C1", "C2", "C4", "C0", "C3"]
        for ax, (label, path), color in zip(axes, panels, colors, strict=True):
            levels = np.geomspace(0.02, 60, 12)
            ax.contour(g1, g2, surface, levels=levels, colors="0.75", linewidths=0.7)
            ax.plot(*path.T, marker=".", ms=4, lw=1, color=color)
            ax.plot(0, 0, "k*", ms=9)
            ax.set(xlim=(-4.5, 4.5), ylim=(-4.5, 4.5), aspect="equal")
            ax.set_title(f"{label}: {len(path) - 1} steps", fontsize=10)
        for ax in axes[3:]:
            ax.set_xlabel(r"$\theta_1$")
        for ax in axes[::3]:
            ax.set_ylabel(r"$\theta_2$")
        sm.save_figure(
            fig,
            "opt_paths.png",
            alt=(
                "Six panels of contour lines of a tilted, narrow bowl with its minimum marked, "
                "each with one path from the same start. SGD zigzags across the valley and creeps "
                "along it. Momentum swings across the valley and back, each swing smaller, while "
                "it moves along it, and ends near the minimum. RMSProp's first step jumps 3 in "
                "each coordinate, then it walks down the valley. Adam's steps start at 0.5 in "
                "each coordinate; it swings along the valley and ends farthest from the minimum. "
                "The last two panels: SGD with learning rate 0.19 zigzags inwards, with 0.21 it "
                "zigzags outwards, off the plot."
            ),
        )

# %% [markdown]
# These are four runs, one rate each, so the order of their losses ranks the runs, not the
# methods: at another rate, or on another bowl, it can change. (Momentum at $\eta = 0.35$, in the
# box of section 2, ends lower than at 0.05.)
#
# - **SGD** zigzags across the valley and creeps along it.
# - **Momentum** swings across the valley in its damped oscillation while it gathers speed along
#   the valley, and ends with the lowest loss, 28 times below SGD's.
# - **RMSProp** and **Adam** rescale each coordinate, that is, each axis of the plot. RMSProp's
#   first step is the jump of 3.0 in both coordinates, and Adam's first steps are 0.5 in both.
#   But this valley runs diagonally, and no rescaling of the plot's axes straightens it: RMSProp
#   walks down the valley no faster than SGD, and Adam, at its rate of 0.5, swings along it and
#   ends farthest from the minimum. In a network, whose gradients differ by orders of magnitude
#   from one coordinate to the next, the rescaling matters more, as the next section shows.
# - The last two panels are the limit of the step-size page: at $\eta = 0.19$,
#   $|1 - \eta\lambda_\mathrm{max}| = 0.9$ and the zigzag shrinks; at 0.21 it is 1.1 and the
#   zigzag grows.
#
# ## 6. On the article's network
#
# ### 6.1 Adam's first steps
#
# From the article's start, Adam at $\eta = 0.01$, with and without bias correction: the loss at
# each of the first three steps, and the largest and smallest step of any of the 193 parameters,
# $|\Delta\theta_k|$.


# %%
def largest_and_smallest_steps(optimizer, params, X, y, steps: int):
    """``[(loss, largest, smallest), ...]``: each step's loss and the largest and smallest change
    of any parameter, training ``params`` in place."""
    rows = []
    for _ in range(steps):
        before = step_size.flat(params)
        loss = sm.train(params, X, y, sm.mse_loss, optimizer, steps=1)[0]
        change = np.abs(step_size.flat(params) - before)
        rows.append((loss, change.max(), change.min()))
    return rows


if __name__ == "__main__":
    params_init, X, y = step_size.article_start()
    g = np.abs(step_size.gradient(params_init, X, y))
    print(
        f"the gradient's entries at the start: from {g.min():.1e} to {g.max():.1e} in size, "
        f"{g.max() / g.min():.0f} times apart"
    )
    for corrected in (True, False):
        params = {name: p.copy() for name, p in params_init.items()}
        optimizer = sm.Adam(lr=0.01, bias_correction=corrected)
        print("with bias correction:" if corrected else "without:")
        for t, (loss, largest, smallest) in enumerate(
            largest_and_smallest_steps(optimizer, params, X, y, 3), start=1
        ):
            print(f"  t={t}  loss {loss:.4f}  largest step {largest:.5f}  smallest {smallest:.8f}")
    # Where the steps fall short of lr: each parameter's gradients over Adam's first three steps
    params, optimizer = {name: p.copy() for name, p in params_init.items()}, sm.Adam(lr=0.01)
    gradients = []
    for _ in range(3):
        before = step_size.flat(params)
        grads = sm.loss_and_grads(params, X, y, sm.mse_loss)[1]
        gradients.append(step_size.flat(grads))
        optimizer.step(params, grads)
    change, gradients = np.abs(step_size.flat(params) - before), np.array(gradients)  # at t = 3
    k = int(np.argmin(change))
    print(
        f"with bias correction, t=3: the smallest step is lr / {optimizer.lr / change[k]:.0f}; "
        f"that parameter's gradients at t = 1, 2, 3: "
        + ", ".join(f"{g:+.4f}" for g in gradients[:, k])
    )
    short = change < optimizer.lr / 2
    flipped = np.any(np.sign(gradients[1:]) != np.sign(gradients[:-1]), axis=0)
    print(
        f"{short.sum()} of the {change.size} steps at t=3 are below lr / 2; the gradients of "
        f"{(short & flipped).sum()} of those {short.sum()} parameters changed sign at t = 2 or 3"
    )

# %% [markdown]
# With the correction, the first step moves every one of the 193 parameters by $\eta = 0.01$
# (the smallest step, 0.00999999, falls short by the $\epsilon$ alone), and the loss falls from
# 1.59 to 0.61, then 0.47. Without it, the first step is $3.16\,\eta$ in every coordinate, and
# the loss jumps up, to 2.03, before it falls. The largest step stays near $\eta$ in the steps
# after, though the gradient's entries at the start are up to 798 times apart in size.
#
# The smallest step does not. By $t = 3$ it is $\eta/81$, and 119 of the 193 steps are shorter
# than $\eta/2$. Every one of those 119 parameters has a gradient that changed sign at $t = 2$ or
# 3; the one with the smallest step had $+0.0822$, $+0.0017$, $-0.0702$. $\hat m$, a mean of
# gradients of both signs, nearly cancels, while $\sqrt{\hat v}$ remembers their size. So
# Adam's step is $\eta$ per coordinate on the first step, and for a gradient that keeps its sign
# and size; where the gradient changes sign it is shorter, often far shorter.
#
# ### 6.2 Which learning rates work
#
# "The same learning rate" means two different things for SGD and Adam. SGD's step is
# $\eta\, g$, and its stability depends on the loss's curvature. Adam's step is at most about
# $\eta$ per coordinate, whatever the gradient's size: $\eta$ where the gradient keeps its sign,
# shorter where it changes sign (section 6.1). The loss after 500 steps from the article's start,
# for 17 rates from $10^{-4}$ to 1, shows each one's usable range. The level of the noise is
# marked: $y = \sin x + $ noise, and the mean square of that noise on these 200 points is the loss
# of the true curve.


# %%
def final_loss(optimizer, params, X, y, steps: int = 500) -> float:
    """The loss after ``steps`` steps from a copy of ``params``, ``inf`` if training diverged."""
    params = {name: p.copy() for name, p in params.items()}
    try:
        return sm.train(params, X, y, sm.mse_loss, optimizer, steps)[-1]
    except FloatingPointError:  # the loss overflowed
        return np.inf


SWEEP_RATES = np.geomspace(1e-4, 1, 17)
OPTIMIZERS = {"SGD": sm.SGD, "Adam": sm.Adam}

if __name__ == "__main__":
    noise = float(np.mean((y - np.sin(X)) ** 2))
    sweep = {
        label: np.array([final_loss(make(lr=lr), params_init, X, y) for lr in SWEEP_RATES])
        for label, make in OPTIMIZERS.items()
    }
    print("     lr      SGD     Adam")
    for i, lr in enumerate(SWEEP_RATES):
        print(f"{lr:8.2e}" + "".join(f"{sweep[label][i]:9.4f}" for label in sweep))
    print(f"the noise's mean square on these points: {noise:.4f}")
    at_noise = SWEEP_RATES[sweep["Adam"] <= noise]
    print(f"Adam at or below it for lr from {at_noise.min():.3g} to {at_noise.max():.3g}")
    best = int(np.argmin(sweep["SGD"]))
    diverged_from = SWEEP_RATES[~np.isfinite(sweep["SGD"])].min()
    print(
        f"SGD: best {sweep['SGD'][best]:.4f} at lr {SWEEP_RATES[best]:.3g}; "
        f"diverges from lr {diverged_from:.3g}"
    )
    # SGD's edge, on the step-size page's finer grid
    limit = 2 / step_size.top_curvature(params_init, X, y)[0]
    fine = step_size.final_losses(params_init, X, y, step_size.EDGE_RATES)
    last, first, all_from = step_size.edge(step_size.EDGE_RATES, fine)
    print(
        f"2/lambda_max at the start {limit:.4f}; on a finer grid SGD first diverges at {first},\n"
        f"{first / limit:.1f} times that, and always from {all_from}"
    )

# %% tags=["fold"]
# Plotting: the loss after 500 steps against the learning rate, for SGD and Adam
if __name__ == "__main__":
    fig = sm.new_figure(figsize=(8, 4.0), layout="constrained")
    if fig is not None:
        strip, ax = fig.subplots(2, 1, sharex=True, height_ratios=[1, 7])
        for (label, losses), marker in zip(sweep.items(), "os", strict=True):
            finite = np.isfinite(losses)
            ax.loglog(SWEEP_RATES[finite], losses[finite], marker=marker, label=label)
        # A diverged run has no loss to plot: it gets a cross in a strip of its own.
        diverged = SWEEP_RATES[~np.isfinite(sweep["SGD"])]
        strip.plot(diverged, np.zeros(len(diverged)), "x", color="C3", ms=8)
        strip.set(yticks=[], ylim=(-1, 1))
        strip.set_ylabel("SGD\ndiverged", rotation=0, ha="right", va="center", fontsize=9)
        for panel in (strip, ax):
            panel.axvline(limit, color="gray", ls=":", lw=1)
            panel.axvspan(first, all_from, color="C3", alpha=0.15)
        ax.plot([], [], color="gray", ls=":", lw=1, label=r"SGD's $2/\lambda_{max}$ at start")
        ax.fill_between([], [], color="C3", alpha=0.15, label="SGD's edge")
        ax.axhline(noise, color="gray", ls="--", lw=1, label="the noise's mean square")
        ax.set(xlabel="learning rate (log scale)", ylabel="loss after 500 steps (log scale)")
        strip.set_title("Each optimizer's usable learning rates", fontsize=10)
        ax.legend(fontsize=8)
        sm.save_figure(
            fig,
            "opt_learning_rates.png",
            alt=(
                "The loss after 500 steps against the learning rate, both on log scales, for SGD "
                "and Adam. SGD's loss falls slowly from 0.22 as the rate grows, past the dotted "
                "line 2 over lambda max at 0.0095, to 0.08 at 0.0178, and diverges from 0.0316 on; "
                "a shaded band between 0.021 and 0.024 marks its edge, and crosses in a strip "
                "above the plot mark the rates where it diverged. Adam reaches the dashed "
                "noise level for rates from 0.0056 to 0.56 and rises to 0.19 at 1, without "
                "diverging."
            ),
        )

# %% [markdown]
# SGD improves as $\eta$ grows, past $2/\lambda_\mathrm{max} = 0.0095$ at the start, to its best
# on this grid, 0.0815 at 0.0178, and diverges from 0.0316 on. Its usable range ends near 0.021,
# 2.2 times $2/\lambda_\mathrm{max}$ at the start (shaded): the loss first climbs, and the
# climb's large steps flatten the loss until it is stable, the catapult that [the step-size
# page](../step_size/) takes apart. Adam reaches the noise's level, 0.0105, at every rate of this
# grid from 0.00562 to 0.562, and a little below it: with 193 parameters for 200 points it fits
# part of the noise itself. It has no cliff in this range. Too large a rate makes it rattle around
# the minimum with steps of about $\eta$, so near the top of the range where it ends after 500
# steps depends on the exact rate; too small a rate makes it slow. SGD's best rates sit just
# below a cliff that the curvature and the catapult set anew for each problem; Adam's usable
# range here is about two decades wide.
#
# ## What this shows
#
# - One learning rate must suit the steepest direction and the flattest; the condition number
#   says how hard that is.
# - Momentum adds up the gradients that keep their direction, which speeds up the flat
#   direction. Along the steep one it turns the zigzag into a damped oscillation, shrinking by
#   $\sqrt{\mu}$ per step while $(1 - \sqrt{\mu})^2 < \eta\lambda < (1 + \sqrt{\mu})^2$. It
#   also raises the largest stable rate, from $2/\lambda_\mathrm{max}$ to
#   $2(1 + \mu)/\lambda_\mathrm{max}$.
# - RMSProp and Adam scale each coordinate's step to about $\eta$, whatever its gradient's size,
#   for a gradient that keeps its size and, for Adam, its sign. Where Adam's gradient changes
#   sign, $\hat m$ cancels and the step shrinks (to $\eta/81$ for one of the network's
#   parameters by the third step). RMSProp's first steps are up to $10\,\eta$, because $v$
#   starts at 0; Adam's bias correction removes that.
# - SGD's usable rates end at a cliff set by the curvature and the catapult. Adam's, on the
#   article's network, span two decades without one, which makes its $\eta$ far easier to
#   choose.
#
# Next: [Mini-batches and held-out data](../minibatches/) trains on part of the data at each step
# and measures on points the network never saw; [The step size and curvature](../step_size/) is
# the page behind SGD's edge; [When it breaks](../failure_modes/) shows an optimizer used wrongly,
# Adam without its bias correction among them.
