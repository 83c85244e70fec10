"""The equilibrium-propagation circuit: Kirchhoff's law at equilibrium, the beta -> 0 gradient, the transient."""

from __future__ import annotations

import numpy as np
import pytest

from mcaann.circuit import eqprop
from mcaann.circuit.network import Topology
from mcaann.engine.eqprop_reference import Network
from mcaann.errors import StudyError
from mcaann.study import load_study
from mcaann.tasks.datasets import load_task
from mcaann.variability.mismatch import sample_instances


def _net(device="square_law", n=6, layers=(2, 3, 1), **ov):
    base = {"network.learning": "eqprop", "network.layers": list(layers), "noise.enabled": False,
            "eqprop.device": device, "mismatch.scale": 2.0, "task.epochs": 3}
    st = load_study("xor", base | ov)
    topo = Topology(layers)
    p = sample_instances(st, topo, np.arange(n))
    return st, topo, p


def _row(n, r=1):
    task = load_task("xor")
    return np.broadcast_to(task.x[r], (n, 2)), np.broadcast_to(task.t[r], (n, 1))


@pytest.mark.parametrize("device", ["square_law", "conductance", "conductance_pair"])
def test_equilibrium_satisfies_kcl(device):
    # mismatched instances (twice the preset's sigma), free and nudged phases: every node's current below 1e-12 A
    st, topo, p = _net(device)
    net = Network(st, topo, p)
    n = 6
    x, t = _row(n)
    v0 = np.full((n, topo.n_neurons), st.eqprop.V_mid)
    for target, beta in ((None, 0.0), (t, 1e-7)):
        v, ok = net.equilibrium(p["w_init"], x, target, beta, v0)
        assert ok.all()
        i, _ = net.currents(p["w_init"], x, v, target, beta)
        assert np.abs(i).max() < 1e-12
        assert np.ptp(v) > 0.05  # the nodes did move away from the start


def _fd_gradient(net, w, x, t, v0, h=1e-5):
    """dL/dw of L = (y - t)^2 / 2 at the free equilibrium, by central differences of the equilibrium solve."""

    def loss(wk):
        v, ok = net.equilibrium(wk, x, None, 0.0, v0)
        assert ok.all()
        return 0.5 * np.sum((v[:, -t.shape[1]:] - t) ** 2, axis=1)

    g = np.zeros_like(w)
    for k in range(w.shape[1]):
        e = np.zeros_like(w)
        e[:, k] = h
        g[:, k] = (loss(w + e) - loss(w - e)) / (2 * h)
    return g


def _ep_estimate(net, w, x, t, v0, beta):
    """The update divided by its learning rate and beta: (Q_nudged - Q_free) / beta [V]."""
    vf, _ = net.equilibrium(w, x, None, 0.0, v0)
    vn, _ = net.equilibrium(w, x, t, beta, vf)
    return (net.local(w, x, vn) - net.local(w, x, vf)) / beta


def _gradient_case(device: str, ideal_update: bool = False, **overrides):
    """Six instances of one row at the free equilibrium from V_mid, with the loss gradient by finite differences:
    (network, weights, x, t, v0, gradient)."""
    st, topo, p = _net(device, **overrides)
    if ideal_update:
        p["i_uoff"][:] = 0.0
    net = Network(st, topo, p)
    n = 6
    x, t = _row(n)
    w = p["w_init"]
    v0 = np.full((n, topo.n_neurons), st.eqprop.V_mid)
    return net, w, x, t, v0, _fd_gradient(net, w, x, t, v0)


#: amplifier output limits close around V_mid, so that the hidden amplifiers work on their soft saturation
TIGHT = {"eqprop.V_out_min": 0.45, "eqprop.V_out_max": 0.55, "eqprop.V_out_knee": 0.02}
UNCLIPPED = {"eqprop.V_out_min": -np.inf, "eqprop.V_out_max": np.inf}


def test_amplifier_saturates_smoothly_at_its_limits():
    # Closed forms far from and at the limits, and the slope against central differences
    v, c = eqprop.Variant("conductance", False, False, clip=True), eqprop.Constants(0.0, 0.5, 0.0, 0.0, 0.0, 0.15,
                                                                                 0.85, 0.02)
    vn = np.linspace(0.0, 1.0, 2001)
    a = 3.0
    out, slope = eqprop.amplifier(v, c, vn, a)
    x = 0.5 + a * (vn - 0.5)
    lin = np.abs(x - 0.5) < 0.15  # 0.2 V = 10 knees inside either limit: 2 s e**-10 from linear at most
    np.testing.assert_allclose(out[lin], x[lin], rtol=0, atol=2 * 0.02 * np.exp(-10.0))
    assert np.abs(out[lin] - x[lin]).max() > 0.1 * 0.02 * np.exp(-10.0)  # and not exactly linear
    np.testing.assert_allclose(out[x > 1.2], 0.85, atol=1e-12)
    np.testing.assert_allclose(out[x < -0.2], 0.15, atol=1e-12)
    # at a limit the softplus knee is s ln 2 inside it
    at = eqprop.amplifier(v, c, 0.5 + 0.35 / a, a)[0]
    assert abs(at - (0.85 - 0.02 * np.log(2.0))) < 1e-12
    h = 1e-6
    fd = (eqprop.amplifier(v, c, vn + h, a)[0] - eqprop.amplifier(v, c, vn - h, a)[0]) / (2 * h)
    np.testing.assert_allclose(slope, fd, atol=1e-7)
    assert slope.min() > -1e-15 and slope.min() < 1e-6 and slope.max() > a * (1 - 1e-6)  # monotone, flat to linear
    assert 0.15 - 1e-12 <= out.min() and out.max() <= 0.85 + 1e-12
    # without limits: the linear amplifier, exactly
    lin_v = eqprop.Variant("conductance", False, False, clip=False)
    out, slope = eqprop.amplifier(lin_v, c, vn, a)
    np.testing.assert_array_equal(out, x)
    assert slope == a


@pytest.mark.parametrize("clip", ["default", "none"])
@pytest.mark.parametrize("device", ["conductance", "conductance_pair"])
def test_update_tends_to_gradient_like_beta(device, clip):
    # The reciprocal variants (two-terminal conductances; the signed pair with its bidirectional inverter) with an
    # ideal update circuit: the update / beta tends to the gradient of the loss at equilibrium, with an error
    # proportional to beta; the neuron amplifiers (gain 2) keep the network's co-content (at the default output
    # limits these nodes stay on the linear part)
    ov = {"default": {}, "none": UNCLIPPED}[clip]
    net, w, x, t, v0, g = _gradient_case(device, ideal_update=True, **{"eqprop.A_n": 2.0} | ov)
    assert net.variant.clip == (clip != "none")
    assert np.abs(g).max() > 1e-3
    errs = [np.abs(_ep_estimate(net, w, x, t, v0, beta) - g).max() for beta in (4e-8, 2e-8, 1e-8)]
    assert errs[2] < 1e-2 * np.abs(g).max()
    ratios = [errs[0] / errs[1], errs[1] / errs[2]]
    assert all(1.8 < r < 2.2 for r in ratios), ratios


@pytest.mark.parametrize("device", ["conductance", "conductance_pair"])
def test_kendall_update_tends_to_layer_scaled_gradient(device):
    # Kendall's amplifier (backward current gain 1/A_n): the network is reciprocal after rescaling each layer's
    # voltages, so (Q_n - Q_f)/beta -> dL/dw divided by the square of the amplifier gain between the synapse and
    # the output (the hidden neuron's own a_n for a first-layer synapse; 1 for the output layer)
    net, w, x, t, v0, g = _gradient_case(device, ideal_update=True,
                                         **{"eqprop.A_n": 2.0, "eqprop.amplifier": "kendall"})
    topo = net.topo
    scale = np.ones_like(w)
    n_in = topo.layers[0] + 1
    for j in range(topo.layers[1]):
        scale[:, j * n_in:(j + 1) * n_in] = net.d["a_n"][:, j:j + 1] ** 2
    assert np.abs(g).max() > 1e-3
    errs = [np.abs(_ep_estimate(net, w, x, t, v0, beta) * scale - g).max() for beta in (4e-8, 2e-8, 1e-8)]
    assert errs[2] < 1e-2 * np.abs(g).max()
    ratios = [errs[0] / errs[1], errs[1] / errs[2]]
    assert all(1.8 < r < 2.2 for r in ratios), ratios


@pytest.mark.parametrize("device", ["conductance", "conductance_pair"])
def test_saturating_amplifier_biases_the_update(device):
    # Amplifiers on their output limits pass the error back at their full backward gain (their backward part does
    # not saturate): the update still converges as beta -> 0 (its changes halve with beta), but to a biased
    # estimate of the gradient, off by more than a third of the largest component, still downhill (cosine > 0.8)
    net, w, x, t, v0, g = _gradient_case(device, ideal_update=True, **{"eqprop.A_n": 2.0} | TIGHT)
    vf, _ = net.equilibrium(w, x, None, 0.0, v0)
    slope = eqprop.amplifier(net.variant, net.const, vf[:, :3], net.d["a_n"][:, :3])[1] / net.d["a_n"][:, :3]
    assert slope.min() < 0.5  # the hidden amplifiers do work on their knees
    est = [_ep_estimate(net, w, x, t, v0, beta) for beta in (4e-8, 2e-8, 1e-8)]
    steps = [np.abs(est[0] - est[1]).max(), np.abs(est[1] - est[2]).max()]
    assert 0.45 < steps[1] / steps[0] < 0.55, steps
    assert np.abs(est[2] - g).max() > 0.35 * np.abs(g).max()
    cos = np.sum(est[2] * g, axis=1) / np.linalg.norm(est[2], axis=1) / np.linalg.norm(g, axis=1)
    assert np.all(cos > 0.8), cos


def test_transistor_update_bias_is_bounded():
    # The seed's transistor pair is not reciprocal: its update is a biased estimate of the gradient (measured,
    # docs/model.md). It still points downhill: its cosine with the true gradient is above 0.5 on every instance.
    net, w, x, t, v0, g = _gradient_case("square_law")
    est = _ep_estimate(net, w, x, t, v0, 1e-9)
    cos = np.sum(est * g, axis=1) / np.linalg.norm(est, axis=1) / np.linalg.norm(g, axis=1)
    assert np.all(cos > 0.5), cos
    assert np.abs(est - g).max() > 1e-3 * np.abs(g).max()  # the bias is real, not rounding


def test_transient_tends_to_equilibrium():
    # backward Euler relaxation of C_node dv/dt = i(v) from V_mid: the distance to the equilibrium falls with the
    # phase time, and is tiny after many node time constants
    st, topo, p = _net("square_law", **{"eqprop.relax": "transient", "integrator.dt": 1e-9})
    net = Network(st, topo, p)
    n = 6
    x, _ = _row(n)
    w = p["w_init"]
    v0 = np.full((n, topo.n_neurons), st.eqprop.V_mid)
    v_eq, _ = net.equilibrium(w, x, None, 0.0, v0)
    dist = []
    for duration in (1e-9, 4e-9, 16e-9, 64e-9):
        v, ok = net.transient(w, x, None, 0.0, v0, duration)
        assert ok.all()
        dist.append(np.abs(v - v_eq).max())
    assert all(a > b for a, b in zip(dist, dist[1:], strict=False)), dist
    assert dist[0] > 1e-2 and dist[-1] < 1e-6, dist


def _kernel_vs_reference(st, n_inst=70):
    """Kernel and reference trained from the same instances: (largest weight difference [V], kernel result)."""
    from mcaann.engine.driver import run_instances, study_task
    from mcaann.engine.eqprop_reference import row_orders

    r = run_instances(st, 0, n_inst)
    task = study_task(st)
    topo = Topology(tuple(st.network.layers))
    net = Network(st, topo, r.params)
    orders = row_orders(st, range(n_inst), st.task.epochs, task.x.shape[0])
    w, mse, _, div = net.train(r.w_init, task.x, task.t, task.thresholds, st.task.epochs, orders)
    np.testing.assert_array_equal(div, r.diverged)
    np.testing.assert_allclose(r.mse, mse, rtol=1e-9, atol=1e-14)
    return np.abs(w - r.w_final).max(), r


KERNEL_STUDY = {"eqprop.I_u_max": 1e-8, "leakage.G_leak": 1e-9, "leakage.I_leak0": 1e-11, "leakage.V_rest": 0.1,
                "task.order": "shuffled"}


@pytest.mark.parametrize(("amplifier", "device", "clip"), [("transformer", "square_law", {}),
                                                          ("kendall", "square_law", UNCLIPPED),
                                                          ("kendall", "conductance_pair", TIGHT)])
def test_kernel_matches_reference(amplifier, device, clip):
    # mismatch (2x), saturating update circuit, leakage, shuffled rows, the amplifiers' outputs limited at the
    # default limits, not at all or tightly; instances 0..69 span two blocks
    st = _net(device, layers=(2, 2, 1), **KERNEL_STUDY, **{"eqprop.amplifier": amplifier} | clip)[0]
    worst, r = _kernel_vs_reference(st)
    assert worst < 1e-12
    assert np.abs(r.w_final - r.w_init).max() > 1e-3  # it learned something
    assert not r.diverged.any()
    # instances 62..69 alone (another block layout, another lane of each) give the same bits
    from mcaann.engine.driver import run_instances

    part = run_instances(st, 62, 70)
    np.testing.assert_array_equal(part.w_final, r.w_final[62:])
    np.testing.assert_array_equal(part.mse, r.mse[62:])


NOISY = {"eqprop.device": "conductance_pair", "eqprop.amplifier": "kendall", "noise.enabled": True}


def test_noisy_kernel_matches_reference():
    # thermal noise on the weights and the sampled nodes (ten times the density, so that it moves the weights),
    # with mismatch, saturating update, leakage and shuffled rows: kernel = reference, and instances 62..69 alone
    # give the same bits (the normals are keyed by instance and step, not by lane)
    st = _net(layers=(2, 2, 1), **KERNEL_STUDY, **NOISY, **{"noise.density_scale": 10.0})[0]
    worst, r = _kernel_vs_reference(st)
    assert worst < 1e-12
    quiet = _kernel_vs_reference(_net(layers=(2, 2, 1), **KERNEL_STUDY, **NOISY, **{"noise.density_scale": 0.0})[0],
                                 n_inst=8)[1]
    assert np.abs(r.w_final[:8] - quiet.w_final).max() > 1e-4
    from mcaann.engine.driver import run_instances

    part = run_instances(st, 62, 70)
    np.testing.assert_array_equal(part.w_final, r.w_final[62:])


@pytest.mark.parametrize("gamma", [0.0, 2.0 / 3.0])
def test_weight_noise_is_the_ou_integral(gamma):
    # Learning made negligible (A_u = 1e-30): a weight's noise is an Ornstein-Uhlenbeck process, the capacitor's
    # leak current noise 2 k T G_leak + q |I_leak0| through the row and the update circuit's 4 k T gamma g_m during
    # its drive. After R rows its variance is sum_r rho^(2 (R - r)) int_0^T_row S(t) exp(-2 glc (T_row - t)) dt / C^2
    # (the integral by quadrature here); the weights less those of the same chips without noise, over that, are
    # standard normal (mean square within 4 standard errors of 1, Kolmogorov-Smirnov).
    from scipy import integrate, stats

    from mcaann.engine.driver import run_instances
    from mcaann.units import K_BOLTZMANN, Q_ELECTRON
    from mcaann.variability.temperature import gm_over_i

    ov = {**KERNEL_STUDY, **NOISY, "eqprop.A_u": 1e-30, "noise.gamma": gamma, "leakage.G_leak": 1e-6,
          "leakage.I_leak0": 1e-11}
    n = 1024
    st = _net(layers=(2, 2, 1), **ov)[0]
    noisy = run_instances(st, 0, n)
    clean = run_instances(_net(layers=(2, 2, 1), **ov, **{"noise.density_scale": 0.0})[0], 0, n)
    kT = K_BOLTZMANN * st.process.temperature
    ep = st.eqprop
    t_row, t_hold = st.task.T_row, ep.T_free + ep.T_nudge
    s_u = 4.0 * kT * gamma * gm_over_i(st) * ep.I_u_bias
    g, c = noisy.params["g_leak"], noisy.params["c"]
    rows = st.task.epochs * 4
    var = np.empty_like(g)
    for i, k in np.ndindex(g.shape):
        glc = g[i, k] / c[i, k]
        s_h = 2.0 * kT * g[i, k] + Q_ELECTRON * 1e-11
        per_row = (integrate.quad(lambda t, glc=glc, s_h=s_h: s_h * np.exp(-2 * glc * (t_row - t)), 0, t_hold)[0]
                   + integrate.quad(lambda t, glc=glc, s_h=s_h: (s_h + s_u) * np.exp(-2 * glc * (t_row - t)),
                                    t_hold, t_row)[0]) / c[i, k] ** 2
        rho2 = np.exp(-2 * glc * t_row)
        var[i, k] = per_row * sum(rho2 ** j for j in range(rows))
    z = ((noisy.w_final - clean.w_final) / np.sqrt(var)).ravel()
    assert abs(np.mean(z ** 2) - 1.0) < 4 * np.sqrt(2.0 / z.size)
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_sampled_node_noise_is_kt_over_c(tmp_path):
    # A 1-1 network whose input, bias and target all sit at V_mid: every node is at V_mid in both phases and
    # nothing learns, but for the update circuit's samples of the output node, each with the variance k T / C_node.
    # The conductance's local quantity K_s (v_a - v_b)^2 / 2 then gives dw = -(A_u T_update K_s sigma^2 / 2 C) X,
    # X = z_n^2 - z_f^2 = 2 u v for independent standard normals: mean 0, variance 4, E X^4 = 144.
    from mcaann.engine.driver import run_instances
    from mcaann.units import K_BOLTZMANN

    data = tmp_path / "mid.csv"
    data.write_text("x0,t0\n0.5,0.5\n")
    ov = {"network.learning": "eqprop", "network.layers": [1, 1], "task.dataset": str(data), "task.epochs": 1,
          "eqprop.device": "conductance", "mismatch.enabled": False, "leakage.enabled": False, "noise.gamma": 0.0,
          "eqprop.A_u": 1e3, "circuit.V_bias": 0.5, "eqprop.V_mid": 0.5}
    st = load_study("xor", ov)
    n = 4000
    r = run_instances(st, 0, n)
    ep = st.eqprop
    sigma2 = K_BOLTZMANN * st.process.temperature / ep.C_node
    scale = -ep.A_u * (st.task.T_row - ep.T_free - ep.T_nudge) * ep.K_s * sigma2 / (2.0 * st.circuit.C)
    x = (r.w_final - r.w_init) / scale
    np.testing.assert_allclose(x[:, 0], x[:, 1], rtol=1e-9)  # both synapses see the one output node
    x = x[:, 0]
    assert abs(np.mean(x)) < 4 * np.sqrt(4.0 / n)
    assert abs(np.mean(x ** 2) - 4.0) < 4 * np.sqrt(128.0 / n)


def test_kernel_transient_matches_reference():
    # transient phases (backward Euler at dt) with each node's own mismatched C_node: kernels equal the reference
    st = _net("square_law", layers=(2, 2, 1), **KERNEL_STUDY,
              **{"eqprop.relax": "transient", "integrator.dt": 2e-9, "eqprop.C_node": 20e-15})[0]
    worst, r = _kernel_vs_reference(st, n_inst=8)
    assert worst < 1e-12
    assert np.std(r.params["c_node"]) > 0.0


def test_node_capacitance_has_pelgrom_sigma():
    # C_node mismatch as every capacitor's: sigma(dC/C) = A_C / sqrt(C_node / C_density); four times the
    # capacitance (area) halves it (the die-to-die spread of the capacitance density, which does not shrink with
    # area, set to 0 here)
    from mcaann.variability.process import resolve_process

    sig = []
    for c_node in (10e-15, 40e-15):
        st, topo, p = _net("square_law", n=4000, layers=(2, 4, 1), **{"mismatch.scale": 1.0, "eqprop.C_node": c_node,
                                                                   "process.spread_C": 0.0})
        proc = resolve_process(st)
        want = proc.A_C / np.sqrt(c_node / proc.C_density)
        rel = p["c_node"] / c_node - 1.0
        assert abs(rel.mean()) < 0.1 * want
        assert np.std(rel) == pytest.approx(want, rel=0.05)
        sig.append(np.std(rel))
    assert sig[0] / sig[1] == pytest.approx(2.0, rel=0.06)


@pytest.mark.parametrize(("override", "field"), [({"integrator.dtype": "float32"}, "integrator.dtype"),
                                                 ({"eqprop.T_free": 9e-8}, "eqprop.T_nudge"),
                                                 ({"eqprop.V_out_min": 0.6}, "eqprop.V_out_max"),
                                                 ({"eqprop.V_out_max": np.inf}, "eqprop.V_out_max")])
def test_bad_eqprop_study_names_the_field(override, field):
    from mcaann.study import StudyError

    with pytest.raises(StudyError, match=f"^{field}: "):
        load_study("xor_eqprop", override)


def test_failed_newton_flags_diverged():
    # one Newton iteration cannot reach the tolerance: every instance is flagged diverged in its first row, and
    # its weights stay as they were
    st = _net("square_law", layers=(2, 2, 1), **KERNEL_STUDY, **{"eqprop.newton_iter": 1})[0]
    worst, r = _kernel_vs_reference(st, n_inst=3)
    assert r.diverged.all() and (r.diverged_step == 0).all()
    np.testing.assert_array_equal(r.w_final, r.w_init)


@pytest.mark.parametrize(("device", "clip"), [("square_law", {}), ("conductance", {}), ("conductance_pair", {}),
                                            ("conductance_pair", TIGHT)])
def test_ngspice_agrees_with_equilibrium(device, clip):
    # the exported free phase of mismatched instances (twice the preset's sigma), every XOR row: ngspice's
    # operating point within 1 mV of the engine's equilibrium (also with the amplifiers on their soft limits)
    from mcaann.spice.eqprop_netlist import check_epoch, check_free_phase
    from mcaann.spice.ngspice import ngspice_available

    if not ngspice_available():
        pytest.skip("ngspice is not installed")
    st = load_study("xor_eqprop", {"mismatch.scale": 2.0, "eqprop.device": device} | clip)
    for instance in (3, 11):
        assert check_free_phase(st, instance) < 1e-3
    # one epoch whose phases are ngspice operating points: the same weights to well below 1 mV
    assert check_epoch(st, 3) < 1e-6


def test_capacity_gradient_fit_descends_within_the_rails():
    # the true-gradient reference of the capacity check: every chip's MSE falls, no weight leaves the rails, and
    # the targets move towards V_mid as asked
    from mcaann.bench.eqprop_capacity import _network, gradient_fit

    st = load_study("xor_eqprop", {"mismatch.scale": 2.0, "noise.enabled": False})
    net, w0, x, t = _network(st, 3, 0.5)
    np.testing.assert_allclose(np.abs(t - st.eqprop.V_mid), 0.2)  # 0.1 / 0.9 V halfway to 0.5 V
    rails = (-0.3, 0.3)
    w = gradient_fit(net, np.clip(w0, *rails), x, t, 40, rails)
    before, after = net.evaluate(np.clip(w0, *rails), x, t, None)[0], net.evaluate(w, x, t, None)[0]
    assert np.all(after < 0.8 * before), (before, after)
    assert w.min() >= -0.3 and w.max() <= 0.3 and np.any(np.abs(w) == 0.3)
    # the amplified swing: exact conductance pairs at w = 0 (G+ = G-) pull every hidden node to V_mid whatever the
    # inputs, so it is 0; the trained mismatched chips' hidden nodes move
    from mcaann.bench.eqprop_capacity import amplified_swing

    assert np.all(amplified_swing(net, w, x) > 0.01)
    pair = load_study("xor_eqprop", {"mismatch.enabled": False, "eqprop.device": "conductance_pair"})
    net0, w0, x0, _ = _network(pair, 2, 1.0)
    assert amplified_swing(net0, np.zeros_like(w0), x0).max() < 1e-12


@pytest.mark.parametrize(("amplifier", "clip"), [("transformer", {}), ("kendall", {}), ("transformer", TIGHT)])
def test_ngspice_level1_mos_agrees_with_equilibrium(amplifier, clip):
    # the square-law pair written as level-1 NMOS transistors (VTO, KP per device), the amplifiers as sources with
    # a current-controlled backward current: ngspice's operating point within 1 mV of the engine's equilibrium
    # (measured about 10 uV: the junctions' gmin towards the -10 V bulk), and one epoch of ngspice phases within 1 mV
    from mcaann.spice.eqprop_netlist import check_epoch, check_free_phase
    from mcaann.spice.ngspice import ngspice_available

    if not ngspice_available():
        pytest.skip("ngspice is not installed")
    st = load_study("xor_eqprop", {"mismatch.scale": 2.0, "eqprop.amplifier": amplifier} | clip)
    for instance in (3, 11):
        assert check_free_phase(st, instance, devices="mos") < 1e-3
    assert check_epoch(st, 3, "mos") < 1e-3
    with pytest.raises(StudyError, match="--devices: mos writes the square-law"):
        check_free_phase(load_study("xor_eqprop", {"eqprop.device": "conductance"}), 0, devices="mos")


def test_every_eqprop_kernel_function_compiles_once(tmp_path, monkeypatch):
    # from an empty kernel cache, each generated function is compiled for one signature only (a literal
    # argument, such as a step counter starting at 0, used to type a second one: twice the compile time)
    from mcaann.engine import kernels
    from mcaann.engine.driver import kernel_spec, run_instances

    monkeypatch.setenv("MCAANN_KERNEL_CACHE", str(tmp_path))
    monkeypatch.setattr(kernels, "_LOADED", {})
    st = load_study("xor_eqprop", {"network.layers": [2, 1], "eqprop.device": "conductance", "task.epochs": 1})
    run_instances(st, 0, 4, 1)
    module = kernels.kernel_module(kernel_spec(st))
    names = ("train_block", "eqrow", "evaluate", "phase", "newton", "assemble", "local_quantities")
    assert {n: len(getattr(module, n).overloads) for n in names} == dict.fromkeys(names, 1)


def test_amplifier_limits_default_to_the_supply_and_follow_a_sweep():
    # unset limits resolve to V_dsat_out inside the supply 2 V_mid, shown by `mcaann show`, and are derived again
    # at each sweep point (a sweep of V_dsat_out or V_mid moves them); given limits stay as given
    from mcaann.study.load import study_to_toml, sweep_points

    st = load_study("xor_eqprop", {"sweep": {"circuit.V_dsat_out": [0.1, 0.2]}})
    assert (st.eqprop.V_out_min, st.eqprop.V_out_max) == (0.15, 0.85)
    assert "V_out_min = 0.15" in study_to_toml(st)
    at = [st.at(p).eqprop for p in sweep_points(st)]
    assert [(e.V_out_min, e.V_out_max) for e in at] == [(0.1, 0.9), (0.2, 0.8)]
    given = load_study("xor_eqprop", {"eqprop.V_out_min": 0.3, "eqprop.V_out_max": 0.7, "eqprop.V_mid": 0.4})
    assert (given.eqprop.V_out_min, given.eqprop.V_out_max) == (0.3, 0.7)
