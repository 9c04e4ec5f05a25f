"""The module run as a script, and imported, as a user does it."""

import os
import subprocess
import sys
import textwrap

from conftest import MODULE_FIGURES as FIGURES
from conftest import ROOT

SCRIPT = ROOT / "scratch_mlp.py"

# The article's loop exactly as the article prints it (indentation restored): the reference the
# script's first five lines must match.
ARTICLE_LOOP = textwrap.dedent(
    """
    import numpy as np
    np.random.seed(0)
    X = np.linspace(-np.pi, np.pi, 200).reshape(-1, 1)
    y = np.sin(X) + 0.1 * np.random.randn(*X.shape)
    d_in, d_h, d_out = 1, 64, 1
    W1 = np.random.randn(d_in, d_h) * np.sqrt(2/d_in)
    b1 = np.zeros((1, d_h))
    W2 = np.random.randn(d_h, d_out) * np.sqrt(2/d_h)
    b2 = np.zeros((1, d_out))
    lr = 0.01
    losses = []
    for step in range(2001):
        Z1 = X @ W1 + b1
        A1 = np.maximum(0, Z1)
        out = A1 @ W2 + b2
        loss = np.mean((out - y) ** 2)
        losses.append(loss)
        N = X.shape[0]
        d_out_layer = 2 * (out - y) / N
        dW2 = A1.T @ d_out_layer
        db2 = d_out_layer.sum(axis=0, keepdims=True)
        d_A1 = d_out_layer @ W2.T
        d_Z1 = d_A1 * (Z1 > 0)
        dW1 = X.T @ d_Z1
        db1 = d_Z1.sum(axis=0, keepdims=True)
        W1 -= lr * dW1; b1 -= lr * db1
        W2 -= lr * dW2; b2 -= lr * db2
        if step % 500 == 0:
            print(f"Step {step:5d} loss={loss:.6f}")
    """
)

ARTICLE_LINES = [
    "Step     0 loss=1.590716",
    "Step   500 loss=0.103490",
    "Step  1000 loss=0.068768",
    "Step  1500 loss=0.054070",
    "Step  2000 loss=0.042415",
]


def run(args, cwd, env=None):
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600
    )


def test_the_article_prints_these_lines(tmp_path):
    result = run(["-c", ARTICLE_LOOP], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ARTICLE_LINES


def test_script_runs_every_section_and_writes_every_figure(tmp_path):
    result = run([str(SCRIPT)], tmp_path)
    assert result.returncode == 0, result.stderr
    # A fresh matplotlib may say on stderr that it builds its font cache; nothing else belongs.
    assert "Warning" not in result.stderr and "Error" not in result.stderr, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:5] == ARTICLE_LINES
    assert "identical to the article's loop, bit for bit: True" in lines

    written = [line.removeprefix("figure written: ") for line in lines if "figure written" in line]
    assert written == [os.path.join("figures", name) for name in FIGURES]
    for name in FIGURES:
        data = (tmp_path / "figures" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name

    # The numbers the prose around them quotes.
    for claim in [
        "curvature of L in W2, at init    =  203.8",  # above 2/lr = 200
        "loss at step 0 = 1.591, highest = 8.398 at step 20",  # "five times", "nineteen steps"
        "negative bias                dead at init 43.8%   after 2001 steps 43.8%",
        "Adam, lr = 0.01  loss after 2001 steps: 0.00869   first step below 0.02: 212",
        "  t=1  loss 1.5907  largest step 0.0316  (lr = 0.01)",  # 3.16 lr without correction
    ]:
        assert claim in lines, claim
    difference = next(line for line in lines if line.startswith("  difference"))
    second_order = next(line for line in lines if line.startswith("  second-order term"))
    assert difference.split("=")[1] == second_order.split("=")[1]

    accuracy = [line for line in lines if line.startswith("train accuracy")]
    assert len(accuracy) == 1
    test_accuracy = float(accuracy[0].split("test accuracy ")[1].split("%")[0])
    assert test_accuracy >= 95.0


def test_script_without_matplotlib_skips_figures_and_says_so_once(tmp_path):
    # A module finder that refuses matplotlib, as if it were not installed.
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'matplotlib' or name.startswith('matplotlib.'):\n"
        "            raise ImportError('No module named ' + repr(name))\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = run([str(SCRIPT)], tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:5] == ARTICLE_LINES
    notices = [line for line in lines if "matplotlib is not installed" in line]
    assert len(notices) == 1
    assert not any("figure written" in line for line in lines)
    assert not (tmp_path / "figures").exists()
    assert any(line.startswith("train accuracy") for line in lines), "later sections still ran"


def test_import_has_no_side_effects(tmp_path):
    probe = textwrap.dedent(
        f"""
        import sys, time
        import numpy as np
        np.random.seed(7)
        before = np.random.get_state()[1].copy()
        start = time.perf_counter()
        sys.path.insert(0, {str(ROOT)!r})
        import scratch_mlp
        elapsed = time.perf_counter() - start
        after = np.random.get_state()[1]
        print("random state unchanged:", bool((before == after).all()))
        print("matplotlib imported:", "matplotlib" in sys.modules)
        print("import seconds:", elapsed)
        """
    )
    result = run(["-c", probe], tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "random state unchanged: True"
    assert lines[1] == "matplotlib imported: False"
    # Importing defines functions only; a second is far more than it needs (about 0.01 s).
    assert float(lines[2].split(": ")[1]) < 1.0
    assert len(lines) == 3, "importing printed something"
    assert list(tmp_path.iterdir()) == [], "importing wrote a file"
