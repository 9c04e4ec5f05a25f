"""Bad input: a ValueError that names the argument and says what is wrong, raised before anything
the caller holds has changed (parameters, data, optimizer state, generator). And input that only
looks unusual, accepted."""

import pickle

import numpy as np
import pytest

import scratch_mlp as sm

XENT, MSE, NAN = sm.softmax_cross_entropy, sm.mse_loss, np.nan


@pytest.fixture
def world():
    """What a user holds, by the names the calls below use: a network P, data X, labels and y,
    gradients G, optimizers that have taken a step (state to keep intact), a fresh Adam, a
    generator rng and an array x."""
    rng = np.random.default_rng(0)
    P = sm.init_mlp([2, 5, 3], rng)
    X, labels, y = rng.standard_normal((8, 2)), rng.integers(0, 3, 8), rng.standard_normal((8, 3))
    G = sm.loss_and_grads(P, X, labels, XENT)[1]
    sgd, mom, rms, adam = sm.SGD(0.1), sm.SGD(0.1, 0.9), sm.RMSProp(0.01), sm.Adam(0.01)
    for optimizer in (sgd, mom, rms, adam):
        optimizer.step(P, G)
    fresh, rng, x = sm.Adam(0.01), np.random.default_rng(1), np.array([1.0, 2.0])
    return dict(P=P, X=X, labels=labels, y=y, G=G, sgd=sgd, mom=mom, rms=rms, adam=adam,
                fresh=fresh, rng=rng, x=x)  # fmt: skip


def run(call, world):
    """``call`` evaluated with the world's names, and ``train(...)`` as sm.train on its network,
    labels, fresh Adam and 3 steps (``W1=...`` replaces a tensor)."""

    def train(params=None, X=world["X"], y=world["labels"], loss_fn=XENT, **changes):
        tensors = {k: changes.pop(k) for k in list(changes) if k[0] in "Wb" and k[1:].isdigit()}
        params = {**(world["P"] if params is None else params), **tensors}
        changes = {"optimizer": world["fresh"], "steps": 3, **changes}
        return sm.train(params, X, y, loss_fn, **changes)

    return eval(call, {**globals(), **world, "train": train})


def entry(array, index, value):
    array = array.copy()
    array[index] = value
    return array


def cast(params, dtype):
    return {name: p.astype(dtype) for name, p in params.items()}


def frozen(array):
    array = array.copy()
    array.flags.writeable = False
    return array


def read_only_b2(params):  # the last tensor: a step that checked as it went would have begun
    return params | {"b2": frozen(params["b2"])}


def later(value):  # an f for numerical_gradient: 0.0 on its first call, then value
    calls = []
    return lambda x: value if calls.append(1) or len(calls) > 1 else 0.0


KINKS_TEXT = (lambda Z: sm.relu_forward(Z), sm.relu_backward)  # kinks said in words, not code
KINKS_TEXT[0].kinks = "where Z = 0"
NUMBER = "must be a finite number > 0"
PAIR = r"must be a \(forward, backward\) pair"
REFUSED = [
    # (the argument named, what the message says, the calls)
    # train's data
    ("X", "must be 2-D", "train(X=X.ravel())"),
    ("X", "must have 2 columns", "train(X=X[:, :1])"),
    ("X", "must be a NumPy array", "train(X=X.tolist())", "train(X=np.asmatrix(X))",
     "train(X=np.ma.masked_array(X, mask=X > 1))", "sm.predict(P, X.tolist())"),
    ("X", "has dtype int64", "train(X=X.astype(int))"),
    ("X", r"X\.astype\(np\.float64\)", "train(X=X.astype('>f8'))"),
    ("X", "NaN or infinite", "train(X=entry(X, (3, 1), NAN))", "train(X=entry(X, 0, -np.inf))",
     "sm.predict(P, entry(X, 0, np.inf))", "sm.loss_and_grads(P, entry(X, 0, NAN), labels, XENT)"),
    ("X", "has no rows", "train(X=X[:0], y=labels[:0])"),
    ("y", "NaN", "train(y=entry(y, 0, NAN), loss_fn=MSE)"),
    ("y", "8 rows but y", "train(y=labels[:5])", "train(y=y[:5], loss_fn=MSE)"),
    ("labels", "must be integer", "train(y=labels.astype(float))"),
    ("labels", r"must lie in \[0, 3\)", "train(y=entry(labels, 0, 3))",
     "train(y=entry(labels, 0, -1))",
     "train(y=entry(labels, 7, 3), batch_size=2, rng=rng)"),  # in a later mini-batch
    ("y", "int64 .*same shape and dtype", "train(y=y.astype(int), loss_fn=MSE)"),
    ("y", r"float32.*y\.astype\(np\.float64\)", "train(y=y.astype('f4'), loss_fn=MSE)"),
    ("y", r"^y is \(8,\) float64 but the network output is \(8, 3\)",  # y's shape, not a batch's
     "train(y=y[:, 0], loss_fn=MSE, batch_size=4, rng=rng)"),
    # the parameters
    ("X", "float64 but the parameters are float32", "train(cast(P, 'f4'))"),
    ("params['b1']", "is float32", "train(b1=P['b1'].astype('f4'))",
     "sm.grad_check(P | {'b1': P['b1'].astype('f4')}, X, labels, XENT)"),
    ("params['W2']", "is list", "train(W2=P['W2'].tolist())"),
    ("params", "dict with keys W1, b1", "train({'W1': P['W1'], 'b2': P['b2']})"),
    ("params['W2']", "2-D with 5 rows", "train(W2=P['W2'].T.copy())"),
    ("params['W1']", "must be 2-D", "train(W1=np.ones(()))"),
    ("params['W2']", "must be 2-D",
     "sm.predict(P | {'W2': P['W2'][:, :0], 'b2': P['b2'][:, :0]}, X)"),  # a layer of no units
    ("params['b1']", r"shape \(1, 5\)", "train(b1=P['b1'].ravel())"),
    ("params", "float32 or float64", "train(cast(P, 'f2'), X=X.astype('f2'))"),
    ("params['W1']", "NaN", "train(W1=entry(P['W1'], 0, NAN))",
     "sm.predict(P | {'W1': P['W1'] * NAN}, X)"),
    ("params['W1']", "is float64: every parameter", "train(W1=np.asmatrix(P['W1']))"),
    ("params", "byte order", "train(cast(P, '>f8'))"),
    # train's counts, loss_fn, activation, optimizer and on_step
    ("steps", "must be at least 0", "train(steps=-1)"),
    ("steps", "must be an integer", "train(steps=True)"),
    ("log_every", "must be an integer", "train(log_every=True)"),
    ("batch_size", "must be at least 1", "train(batch_size=0, rng=rng)",
     "train(y=np.zeros((8, 3)), loss_fn=weighted(8), batch_size=-1, rng=rng)"),
    ("batch_size", "must be at most N = 8", "train(batch_size=9, rng=rng)"),
    ("batch_size", "must be an integer", "train(batch_size=True, rng=rng)"),
    ("batch_size", "needs rng", "train(batch_size=4)"),
    ("rng", r"a np\.random\.Generator, got 0", "train(batch_size=4, rng=0)"),
    ("loss_fn", "must be a function", "train(loss_fn='softmax')", "train(loss_fn=sm.softmax)"),
    ("loss_fn", r"must return \(loss, d_out\)", "train(loss_fn=lambda o, t: XENT(o, t)[0])",
     "train(loss_fn=lambda o, t: (*XENT(o, t), 0))"),
    ("loss_fn", "fails on 8 rows", "train(loss_fn=lambda o, t: MSE(o, t))",  # labels for MSE
     "sm.grad_check(P, X, labels, lambda o, t: MSE(o, t))"),
    ("loss_fn", "real number loss", "train(loss_fn=lambda o, t: (None, XENT(o, t)[1]))",
     "train(loss_fn=lambda o, t: ('0.5', XENT(o, t)[1]))",
     "train(loss_fn=lambda o, t: (True, XENT(o, t)[1]))"),
    ("d_out", r"must have shape \(2, 3\)", "train(loss_fn=lambda o, t: (1.0, o[:, :2]))"),
    ("activation", PAIR, "train(activation=sm.relu_forward)", "train(activation=None)",
     "train(activation=(*sm.RELU, abs))", "train(activation=(abs, None))",
     "train(activation=sm.RELU[::-1])", "train(activation=(sm.relu_backward,) * 2)"),
    ("activation", r"must return \(A, cache\)", "train(activation=(abs, sm.relu_backward))",
     "train(activation=(lambda Z: [Z, Z], sm.relu_backward))",
     "train(activation=(lambda Z: (Z, Z, Z), sm.relu_backward))",
     "train(activation=(lambda Z: (Z[:1], Z), sm.relu_backward))"),
    ("activation", "must return d_Z", "train(activation=(sm.relu_forward, lambda d, Z: 1))",
     "train(activation=(sm.relu_forward, lambda d, Z: d[:1]))",
     "train(activation=(sm.relu_forward, lambda d, Z: d.astype('f4')))"),
    ("activation", r"fails on a pre-activation of shape \(2, 5\)",
     "train(activation=leaky(np.full((1, 4), 0.1)))"),  # a slope per unit, for 4 units
    ("activation", "gives NaN", "train(activation=(sm.relu_forward, lambda d, Z: d * np.log(Z)))",
     "train(activation=(lambda Z: (np.log(Z), Z), sm.relu_backward))",
     "train(activation=(lambda Z: (np.log1p(Z), Z), sm.relu_backward))"),  # NaN below -1 only
    ("activation", "shape and dtype float32", "train(cast(P, 'f4'), X.astype('f4'), "
     "activation=(lambda Z: (Z.astype('f8'), Z), sm.relu_backward))"),
    ("optimizer", "must have .step", "train(optimizer=0.1)", "train(optimizer=sm.Adam)",
     "train(optimizer=type('O', (), {'step': lambda self: 0})())",
     "train(optimizer=type('O', (), {'step': staticmethod(lambda p, g: None)}))"),  # a class
    ("on_step", "must be a function", "train(on_step='print')"),
    ("on_step", r"function \(step, loss, params\)", "train(on_step=lambda loss: None)"),
    # hyperparameters, when constructed and when set later
    ("lr", NUMBER, "sm.SGD(0)", "sm.SGD(-0.1)", "sm.RMSProp(NAN)", "sm.RMSProp(np.inf)",
     "sm.Adam(True)", "sm.Adam('0.1')", "sm.Adam(10**400)", "setattr(adam, 'lr', '0.01')"),
    ("momentum", r"must be in \[0, 1\)", "sm.SGD(0.1, momentum=1.0)"),
    ("momentum", "must be a finite number >= 0", "setattr(mom, 'momentum', -0.1)"),
    ("alpha", r"must be in \[0, 1\)", "sm.RMSProp(alpha=1.0)"),
    ("eps", NUMBER, "sm.RMSProp(eps=-1e-8)", "sm.RMSProp(eps=0.0)", "sm.Adam(eps=0.0)",
     "sm.Adam(eps='a')"),
    ("betas", r"must be in \[0, 1\)", "sm.Adam(betas=(0.9, 1.0))",
     "setattr(adam, 'betas', (1.0, 0.999))"),
    ("betas", "must be two numbers", "sm.Adam(betas=0.9)", "sm.Adam(betas=(0.9,))",
     "setattr(adam, 'betas', 'ab')"),
    ("betas", "must be a finite number >= 0", "sm.Adam(betas=(0.9, 'a'))",
     "sm.Adam(betas=(-0.1, 0.99))"),
    ("bias_correction", "must be True or False", "sm.Adam(bias_correction='no')",
     "setattr(adam, 'bias_correction', 1)"),
    # an optimizer's step: every tensor checked before the first changes
    ("params['b2']", "must be a writeable", "train(read_only_b2(P))",
     "sgd.step(read_only_b2(P), G)", "mom.step(read_only_b2(P), G)",
     "rms.step(read_only_b2(P), G)", "adam.step(read_only_b2(P), G)"),
    ("Adam", "holds state for other parameter", "adam.step(cast(P, 'f8'), G)",
     "adam.step(P | {'W3': P['W2']}, G | {'W3': G['W2']})"),
    ("SGD", "holds state for other parameter", "mom.step(P | {'W1': P['W1'].copy()}, G)"),
    ("grads", "must have the keys", "rms.step(P, {k: g for k, g in G.items() if k != 'b2'})",
     "sgd.step(P, list(G.values()))"),
    ("grads['W2']", r"is \(3, 5\)", "mom.step(P, G | {'W2': G['W2'].T})"),
    ("grads['b2']", "float32", "sgd.step(P, G | {'b2': G['b2'].astype('f4')})"),
    ("grads['b2']", "is list", "adam.step(P, G | {'b2': G['b2'].tolist()})"),
    ("grads['W1']", "is", "sgd.step(P, {k: np.ma.masked_array(g) for k, g in G.items()})"),
    ("grads['W2']", "backward pass.*NaN", "sgd.step(P, G | {'W2': G['W2'] * NAN})",
     "adam.step(P, G | {'W2': G['W2'] * NAN})"),
    ("params", "must be a dict", "sgd.step(list(P.values()), list(G.values()))"),
    ("params['W1']", "writeable float32 or float64", "sgd.step(cast(P, 'f2'), cast(G, 'f2'))",
     "sgd.step(P | {'W1': np.asmatrix(P['W1'])}, G)"),
    ("lr", "is inf in float32", "sm.SGD(1e39).step(cast(P, 'f4'), cast(G, 'f4'))"),
    ("eps", "1e-46 is 0.0 in float32", "sm.Adam(eps=1e-46).step(cast(P, 'f4'), cast(G, 'f4'))"),
    # the losses
    ("out", "must be a NumPy array", "MSE([[1.0]], np.zeros((1, 1)))"),
    ("y", "must be a NumPy array", "MSE(np.zeros((1, 1)), [[0.0]])"),
    ("y", r"is \(5, 3\)", "MSE(np.zeros((8, 3)), np.zeros((5, 3)))"),
    ("logits", "must be a NumPy array", "XENT([[1.0, 0.0]], np.array([0]))",
     "XENT(np.asmatrix(np.zeros((2, 3))), np.zeros(2, int))"),
    ("logits", "must be floating point", "XENT(np.zeros((2, 3), int), np.zeros(2, int))"),
    ("labels", "must be a NumPy array", "XENT(np.zeros((1, 2)), [0])"),
    ("labels", "has 5 entries but logits has 8 rows", "XENT(np.zeros((8, 3)), np.zeros(5, int))"),
    ("labels", "must be 1-D", "XENT(np.zeros((8, 3)), np.zeros((8, 1), int))"),
    # init_mlp: nothing drawn from rng
    ("sizes", "needs at least two", "sm.init_mlp([3], rng)", "sm.init_mlp([], rng)",
     "sm.init_mlp(5, rng)", "sm.init_mlp(None, rng)", "sm.init_mlp(np.array(3), rng)"),
    ("sizes", "must be at least 1", "sm.init_mlp([3, 0, 2], rng)"),
    ("sizes", "must be an integer", "sm.init_mlp([3, 2.5], rng)", "sm.init_mlp([3, True], rng)"),
    ("sizes", "cannot be made", "sm.init_mlp([10**20, 1], rng)"),
    ("rng", "must be a generator", "sm.init_mlp([2, 3], 0)", "sm.init_mlp([2, 3], np.random)",
     "sm.init_mlp([2, 3], np.random.Generator)"),
    ("dtype", "must be a floating-point", "sm.init_mlp([2, 3], rng, np.int32)",
     "sm.init_mlp([2, 3], rng, 'banana')", "sm.init_mlp([2, 3], rng, np.float16)",
     "sm.init_mlp([2, 3], rng, '>f8')"),
    ("weight_std", "finite number >= 0", "sm.init_mlp([2, 3], rng, weight_std=-1.0)",
     "sm.init_mlp([2, 3], rng, weight_std=NAN)"),
    ("weight_std", "overflows float32", "sm.init_mlp([3, 2], rng, np.float32, weight_std=1e39)",
     "sm.init_mlp([30, 20], rng, np.float32, weight_std=1e38)"),  # finite, but not once drawn
    ("hidden_bias", "finite number", "sm.init_mlp([2, 3], rng, hidden_bias=NAN)",
     "sm.init_mlp([2, 3], rng, hidden_bias='0')"),
    # grad_check, mlp_backward, the layers
    ("max_evals", "407,060 times .*max_evals = 100,000", "sm.grad_check(sm.init_mlp("
     "[784, 256, 10], np.random.default_rng(0)), np.zeros((2, 784)), labels[:2], XENT)"),
    ("X", "contains NaN", "sm.grad_check(P, entry(X, 0, NAN), labels, XENT)"),
    ("X", "must be a NumPy array", "sm.grad_check(P, X.tolist(), labels, XENT)"),
    ("X", "has no rows", "sm.grad_check(P, X[:0], labels[:0], XENT)"),
    ("h", NUMBER, "sm.grad_check(P, X, labels, XENT, h=0.0)",
     "sm.grad_check(P, X, labels, XENT, h=NAN)"),
    ("h", r"too small to move some entries of params\['W1'\]",
     "sm.grad_check(P, X, labels, XENT, h=1e-300)",
     "sm.grad_check(P | {'W1': entry(P['W1'], 0, 1e20)}, X, labels, XENT)"),
    ("rtol", "finite number >= 0", "sm.grad_check(P, X, labels, XENT, rtol=-1.0)"),
    ("atol", "finite number >= 0", "sm.grad_check(P, X, labels, XENT, atol=np.inf)"),
    ("max_evals", "must be an integer", "sm.grad_check(P, X, labels, XENT, max_evals=None)"),
    ("kinks", "must be a function", "sm.grad_check(P, X, labels, XENT, activation=KINKS_TEXT)"),
    ("cache", "must be the cache", "sm.mlp_backward(P, [1, 2], np.ones((8, 3)))",
     "sm.mlp_backward(P, [(), ()], np.ones((8, 3)))",
     "sm.mlp_backward(P, sm.mlp_forward({'W1': P['W1'], 'b1': P['b1']}, X)[1], np.ones((8, 5)))"),
    ("cache", "comes from mlp_forward on other params",
     "sm.mlp_backward(P, sm.mlp_forward(P | {'W2': P['W2'].copy()}, X)[1], np.ones((8, 3)))"),
    ("d_out", "must be a NumPy array", "sm.mlp_backward(P, sm.mlp_forward(P, X)[1], [[0.0]] * 8)"),
    ("d_out", "must have the parameters' dtype float64",
     "sm.mlp_backward(P, sm.mlp_forward(P, X)[1], np.zeros((8, 3), 'f4'))"),
    ("grads['W1']", "backward pass.*NaN",
     "sm.grad_check(P, X, labels, lambda o, t: (XENT(o, t)[0], XENT(o, t)[1] * NAN))"),
    ("params", "must be a dict", "sm.mlp_backward(None, [], np.ones(1))"),
    ("d_A", r"must have shape \(1, 3\)", "sm.relu_backward(np.ones((4, 3)), np.ones((1, 3)))"),
    ("d_Z", r"must have shape \(2, 4\)",
     "sm.linear_backward(np.ones((2, 5)), (np.ones((2, 3)), np.ones((3, 4))))"),
    # numerical_gradient: x is put back whatever happens
    ("x", "writeable float32 or float64", "sm.numerical_gradient(sum, x.astype(int))",
     "sm.numerical_gradient(sum, x.astype('f2'))", "sm.numerical_gradient(sum, frozen(x))"),
    ("h", NUMBER, "sm.numerical_gradient(sum, x, h=0.0)"),
    ("h", r"too small to move x\[1\] = 1e\+20", "sm.numerical_gradient(sum, entry(x, 1, 1e20))"),
    ("x", "must be a NumPy array", "sm.numerical_gradient(sum, [1.0, 2.0])"),
    ("x", "contains NaN", "sm.numerical_gradient(sum, entry(x, 0, NAN))"),
    ("h", "too large for x's dtype float32", "sm.numerical_gradient(sum, x.astype('f4'), h=1e300)"),
    ("f", "returns a number", "sm.numerical_gradient(lambda v: v * 2, x)",
     "sm.numerical_gradient(lambda v: None, x)", "sm.numerical_gradient('f', x)",
     "sm.numerical_gradient(later([0.0]), x)", "sm.numerical_gradient(lambda v: np.array('1'), x)"),
    # split, a tutorial helper
    ("test_fraction", NUMBER, "sm.split(X, labels, rng, -0.1)", "sm.split(X, labels, rng, 0.0)"),
    ("test_fraction", "between 0 and 1", "sm.split(X, labels, rng, 1.0)"),
    ("labels", r"X has 8 rows but labels has shape \(9,\)", "sm.split(X, np.zeros(9, int), rng)"),
]  # fmt: skip
CALLS = [(argument, says, call) for argument, says, *calls in REFUSED for call in calls]


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix, on purpose
@pytest.mark.parametrize("argument, says, call", CALLS, ids=[call for *_, call in CALLS])
def test_bad_input_is_refused_naming_the_argument_before_anything_changes(
    world, argument, says, call
):
    before = pickle.dumps(world)  # the arrays' bytes, the optimizers' state, the generator's
    with pytest.raises(ValueError, match=says) as refused:
        run(call, world)
    assert argument in str(refused.value)
    assert pickle.dumps(world) == before


def leaky(alpha):  # a ReLU with a slope per unit: it works only at the network's width
    return lambda Z: (np.where(Z > 0, Z, alpha * Z), Z), lambda d, Z: d * np.where(Z > 0, 1, alpha)


def weighted(rows):  # a weight for each of the rows of a batch: it works only on whole batches
    return lambda out, y: MSE(out * np.linspace(0.5, 1.5, rows)[:, None], y)


DICT_CACHE = (lambda Z: (np.maximum(Z, 0), {"Z": Z}), lambda d_A, cache: d_A * (cache["Z"] > 0))


def regression(out, y):  # integer targets, such as 0/1 or +-1
    return MSE(out, y.astype(out.dtype))


def by_name(out, y):  # class names as targets
    return XENT(out, np.unique(y, return_inverse=True)[1])


@pytest.mark.parametrize(
    "claim",
    [
        "len(train(sm.init_mlp([2, 1], rng), y=labels[:, None] % 2, loss_fn=regression)) == 3",
        "len(train(sm.init_mlp([2, 1], rng), y=-(labels[:, None] % 2), loss_fn=regression)) == 3",
        "len(train(y=np.array(list('abcabcab')), loss_fn=by_name)) == 3",
        "len(train(activation=leaky(np.full((1, 5), 0.1)))) == 3",
        "len(train(activation=DICT_CACHE)) == 3",  # a cache that is not an array
        "len(train(y=np.zeros((8, 3)), loss_fn=weighted(8))) == 3",
        "len(train(y=np.zeros((8, 3)), loss_fn=weighted(4), batch_size=4, rng=rng)) == 3",
        "list(sm.numerical_gradient(lambda v: np.array(v @ v), x)) == pytest.approx([2, 4])",
        "sm.init_mlp(np.array([2, 3]), rng)['W1'].shape == (2, 3)",
        "sm.init_mlp([2, 3], rng, np.float32, weight_std=2e35)['W1'].dtype == np.float32",
        "list(sm.numerical_gradient(sum, np.array([1.0, -1.0]), h=1e-16)) == [1, 1]",  # h rounds
        "len(train(sm.init_mlp([2, 1], rng), y=y[:, :1], batch_size=1, rng=rng,"
        " loss_fn=lambda o, t: (((o - t) ** 2).item(), 2 * (o - t)))) == 3",  # one row at a time
        "sm.grad_check(P, X, labels, XENT, max_evals=66).ok",  # two per entry: 66, not one more
        "sm.grad_check({'W1': np.array([[1.0], [-1.0]]), 'b1': np.zeros((1, 1))}, np.ones((1, 2)),"
        " y[:1, :1], lambda o, t: (o.sum(), np.ones_like(o)), h=1e-16, rtol=0, atol=0).ok",  # exact
        "sm.linear_backward(np.eye(1), (np.eye(1), 3 * np.eye(1)))[0].item() == 3",  # d_X = G W^T
        "sm.RMSProp(alpha=0.0).alpha == sm.SGD(0.1, momentum=0).momentum == 0",
        "sm.Adam(betas=(0, 0)).betas == (0.0, 0.0)",
        "sgd.step({'W1': x.copy()}, {'W1': x}) is None",  # plain SGD keeps no state: any arrays
        "sm.Adam().step({}, {}) is None",  # no parameters: nothing to do
    ],
)  # fmt: skip
def test_input_that_only_looks_unusual_is_accepted(world, claim):
    assert run(claim, world) is True


def test_loss_and_grads_calls_loss_fn_once_its_checks_included(world):
    calls = []

    def counted(out, labels):
        calls.append(len(out))
        return XENT(out, labels)

    sm.loss_and_grads(world["P"], world["X"], world["labels"], counted)
    assert calls == [len(world["X"])]
