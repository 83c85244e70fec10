"""The result dataset of INTERFACE.md, assembled from per-instance results.

Dimensions: one per sweep key (``mismatch.scale`` -> ``mismatch__scale``), then
``instance``, ``epoch``, ``weight`` (coordinates ``layer``, ``post``, ``pre``), ``neuron``
(``neuron_layer``, ``neuron_index``), ``row``, ``input``, ``output``, ``hold_time``.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
import xarray as xr

from mcaann.circuit.cost import chip_cost, energy_to_converge
from mcaann.circuit.network import Topology
from mcaann.stats.convergence import converged_mask, convergence_epochs
from mcaann.stats.yield_ import wilson_interval
from mcaann.study.schema import field_units


def sweep_dim(key: str) -> str:
    """Dimension name of a sweep key: dots become double underscores."""
    return key.replace(".", "__")


_FLAGS_CONVERGED = {"flag_values": np.array([0, 1], np.int8), "flag_meanings": "not_converged converged"}
_FLAGS_DIVERGED = {"flag_values": np.array([0, 1], np.int8), "flag_meanings": "finite diverged"}
#: the paper whose circuit mcaann models (seed 004)
REFERENCES = ("Fully analogue training circuit block concept based on backpropagation for neural networks "
              "without clock control, capacitors as weight memory, XOR validation (mcaann seed 004); "
              "equations in docs/model.md")


def _attrs(units: str, long_name: str, **extra) -> dict:
    return {"units": units, "long_name": long_name, **extra}


def kept_epochs(study) -> np.ndarray:
    """Epochs kept in the learning curves: every ``output.keep_every``-th, and the last."""
    e = np.arange(0, study.task.epochs + 1, study.output.keep_every)
    return e if e[-1] == study.task.epochs else np.append(e, study.task.epochs)


def finish_instances(study, task, res) -> None:
    """Per-instance outcome from the full curves, then thin and cast the curves (in place)."""
    y = study.yield_
    acc_thr = y.accuracy_for(task) if task.is_classification else None
    if task.has_split and task.is_classification:
        # held-out rows: the final held-out accuracy decides (MSE not required); the epoch is the first from
        # which the training accuracy holds the threshold up to the last, where the held-out accuracy does
        ok = converged_mask(np.zeros_like(res.accuracy), res.accuracy, 1.0, acc_thr) & ~res.diverged[:, None]
        ok[:, -1] = (res.accuracy_test >= acc_thr) & ~res.diverged
    else:
        ok = converged_mask(res.mse, res.accuracy, y.mse_threshold, acc_thr) & ~res.diverged[:, None]
    res.final_mse = res.mse[:, -1].copy()
    res.final_accuracy = res.accuracy[:, -1].copy()
    res.converged = ok[:, -1].copy()
    res.epochs_to_converge = convergence_epochs(ok)
    keep = kept_epochs(study)
    dtype = np.float32 if study.output.curves_dtype == "float32" else np.float64
    res.mse = np.ascontiguousarray(res.mse[:, keep], dtype=dtype)
    res.accuracy = np.ascontiguousarray(res.accuracy[:, keep], dtype=dtype)
    res.accuracy_test_curve = np.ascontiguousarray(res.accuracy_test_curve[:, keep], dtype=dtype)


def chip_training_time(study) -> float:
    """Circuit time [s] a chip of ``study`` spends training (0 for the strategies that only write)."""
    from mcaann.engine.driver import study_task

    if study.training.strategy not in ("in_situ", "transfer_then_tune"):
        return 0.0
    return study.task.epochs * study_task(study).n_train * study.task.T_row


def per_instance_variables(study, res) -> dict:
    """Variables over (instance, ...) for one sweep point, as {name: (dims, data, attrs)}."""
    diverged, diverged_step, params = res.diverged, res.diverged_step, res.params
    w_init, w_final = res.w_init, res.w_final
    retention_mse, retention_accuracy = res.retention_mse, res.retention_accuracy
    dt = study.integrator.dt
    out = {
        "mse": (("instance", "epoch"), res.mse, _attrs("V2", "evaluation mean squared error after each epoch")),
        "accuracy_curve": (("instance", "epoch"), res.accuracy,
                           _attrs("1", "evaluation accuracy after each epoch (NaN: regression)")),
        "accuracy_test_curve": (("instance", "epoch"), res.accuracy_test_curve,
                                _attrs("1", "held-out accuracy after each kept epoch (NaN: no held-out rows)")),
        "final_mse": (("instance",), res.final_mse, _attrs("V2", "evaluation MSE after the last epoch")),
        "accuracy": (("instance",), res.final_accuracy, _attrs("1", "accuracy after the last epoch (NaN: regression)")),
        "accuracy_train": (("instance",), res.final_accuracy,
                           _attrs("1", "training-set accuracy after the last epoch (NaN: regression)")),
        "accuracy_test": (("instance",), res.accuracy_test,
                          _attrs("1", "held-out accuracy of the final weights (NaN: no held-out rows)")),
        "converged": (("instance",), res.converged, _attrs("1", "converged at the final epoch", **_FLAGS_CONVERGED)),
        "epochs_to_converge": (("instance",), res.epochs_to_converge,
                               _attrs("1", "first epoch from which the yield criterion holds to the end")),
        "diverged": (("instance",), diverged, _attrs("1", "a weight became non-finite; instance frozen",
                                                    **_FLAGS_DIVERGED)),
        "diverged_time": (("instance",), np.where(diverged_step >= 0, diverged_step * dt, np.nan),
                          _attrs("s", "circuit time at which the instance diverged")),
        "w_init": (("instance", "weight"), w_init, _attrs("V", "weight voltage before training")),
        "w_final": (("instance", "weight"), w_final, _attrs("V", "weight voltage after training")),
    }
    from mcaann.variability.mismatch import block_params

    syn_params, neuron_params = block_params(study)  # the point's learning circuit's
    for spec in syn_params:
        out[spec.name] = (("instance", "weight"), params[spec.name],
                          _attrs(spec.units, spec.long_name, role="sampled_parameter", block=spec.block,
                                 nominal=float(spec.nominal(study))))
    for spec in neuron_params:
        out[spec.name] = (("instance", "neuron"), params[spec.name],
                          _attrs(spec.units, spec.long_name, role="sampled_parameter", block=spec.block,
                                 nominal=float(spec.nominal(study))))
    out["software_time"] = (("instance",), res.software_seconds,
                            _attrs("s", "wall time of the software training shared out over the chips trained "
                                   "together (this run's measurement, like wall_time; 0: in situ)"))
    out["chip_training_time"] = ((), chip_training_time(study),
                                 _attrs("s", "circuit time the chip spends training: epochs x rows x T_row"))
    cost = chip_cost(study)
    out["chip_area"] = ((), cost.area, _attrs("m2", "chip area: block devices and weight capacitors, no wiring"))
    out["static_power"] = ((), cost.static_power, _attrs("W", "static power: supply times bias currents"))
    out["energy_to_converge"] = (("instance",), energy_to_converge(study, res.epochs_to_converge),
                                 _attrs("J", "static power times the training time until converged (NaN: not)"))
    if retention_mse is not None:
        out["retention_mse"] = (("instance", "hold_time"), retention_mse,
                                _attrs("V2", "evaluation MSE after holding the trained weights"))
        out["retention_accuracy"] = (("instance", "hold_time"), retention_accuracy,
                                     _attrs("1", "accuracy after holding the trained weights"))
    return out


def build_dataset(study, task, points: list[dict], point_vars: list[dict], extra_attrs: dict,
                  instances: np.ndarray | None = None) -> xr.Dataset:
    """Stack per-point variables over the sweep grid and add yield, coordinates, attributes.

    ``points`` are the sweep assignments in grid order (first key slowest) and
    ``point_vars`` the matching outputs of :func:`per_instance_variables`.
    """
    keys = list(study.sweep)
    shape = tuple(len(study.sweep[k]) for k in keys)
    sdims = tuple(sweep_dim(k) for k in keys)
    data_vars = {}
    names = list(dict.fromkeys(name for pv in point_vars for name in pv))
    for name in names:
        # a variable of some points only (the sampled parameters of one learning circuit, in a sweep of
        # network.learning) is NaN at the others
        first = next(pv[name] for pv in point_vars if name in pv)
        dims, _, attrs = first
        if len(point_vars) == 1:  # no sweep: no copy
            stacked = point_vars[0][name][1]
        else:
            stacked = np.stack([pv[name][1] if name in pv else np.full(np.shape(first[1]), np.nan)
                                for pv in point_vars])
            stacked = stacked.reshape(shape + stacked.shape[1:])
        data_vars[name] = (sdims + dims, stacked, attrs)
    topo = Topology(tuple(study.network.layers))
    wc = topo.weight_coords()
    nc = topo.neuron_coords()
    n_inst = point_vars[0]["mse"][1].shape[0]
    instances = np.arange(n_inst) if instances is None else np.asarray(instances)
    coords = {
        "instance": ("instance", instances, _attrs("1", "Monte Carlo instance (simulated chip)")),
        "epoch": ("epoch", kept_epochs(study), _attrs("1", "epoch (0: before training)")),
        "weight": ("weight", np.arange(topo.n_weights), _attrs("1", "weight (flat index)")),
        "layer": ("weight", wc["layer"], _attrs("1", "weight layer (1 = first layer of weights)")),
        "post": ("weight", wc["post"], _attrs("1", "post-synaptic neuron (0-based)")),
        "pre": ("weight", wc["pre"], _attrs("1", "pre-synaptic input (0 = bias)")),
        "neuron": ("neuron", np.arange(topo.n_neurons), _attrs("1", "neuron (flat index)")),
        "neuron_layer": ("neuron", nc["neuron_layer"], _attrs("1", "layer of the neuron (1 = first hidden)")),
        "neuron_index": ("neuron", nc["neuron_index"], _attrs("1", "index of the neuron in its layer")),
        "row": ("row", np.arange(task.n_rows), _attrs("1", "dataset row")),
        "input": ("input", np.arange(task.x.shape[1]), _attrs("1", "network input")),
        "output": ("output", np.arange(task.t.shape[1]), _attrs("1", "network output")),
    }
    if study.retention.hold_times:
        coords["hold_time"] = ("hold_time", np.asarray(study.retention.hold_times, float),
                               _attrs("s", "retention hold time after training"))
    for k, d in zip(keys, sdims, strict=True):
        vals = study.sweep[k]
        if all(isinstance(v, bool) for v in vals):
            arr = np.asarray(vals, dtype=bool)
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in vals):  # seeds, counts: exact
            arr = np.asarray(vals, dtype=np.int64)
        elif all(isinstance(v, int | float) for v in vals):
            arr = np.asarray(vals, dtype=float)
        else:
            arr = np.asarray([str(v) for v in vals])
        coords[d] = (d, arr, {"long_name": f"sweep of {k}", "units": field_units(k) or "1"})
    ds = xr.Dataset(data_vars, coords=coords)
    temps = np.reshape([(study.at(p) if p else study).process.temperature for p in points], shape)
    ds["temperature"] = (sdims, temps, _attrs("K", "chip temperature (process.temperature)",
                                              standard_name="temperature"))
    ds["task_x"] = (("row", "input"), task.x, _attrs("V", "dataset inputs"))
    ds["task_t"] = (("row", "output"), task.t, _attrs("V", "dataset targets"))
    held = task.test if task.has_split else np.zeros(task.n_rows, bool)
    ds["task_held_out"] = (("row",), held, _attrs("1", "row held out for testing (not trained on)"))
    add_yield(ds)
    ds.attrs.update(common_attrs(
        study, f"mcaann Monte Carlo study {study.name}: training yield of a self-training analogue network"))
    ds.attrs.update(extra_attrs)
    return ds


def common_attrs(study, title: str) -> dict:
    """The attributes every mcaann file carries: version, the resolved study, seed, times, CF/ACDD ones."""
    from mcaann import __version__
    from mcaann.study.load import study_to_toml

    created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    return dict(
        mcaann_version=__version__,
        study=study_to_toml(study),
        study_name=study.name,
        seed=int(study.monte_carlo.seed),
        created=created,
        integrator=study.integrator.method,
        dt=float(study.integrator.dt),
        dtype=study.integrator.dtype,
        T_row=float(study.task.T_row),
        mse_threshold=float(study.yield_.mse_threshold),
        Conventions="CF-1.10, ACDD-1.3",
        title=title,
        history=f"{created}: {command_line()}",
        source=f"mcaann {__version__} (Monte Carlo simulation of self-training analogue neural-network chips)",
        references=REFERENCES,
        date_created=created,
        dt_units="s",
        T_row_units="s",
        mse_threshold_units="V2",
    )


def command_line() -> str:
    """The command line of this process, for the ``history`` attribute."""
    import shlex
    import sys

    return " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name, *sys.argv[1:]])


def add_yield(ds: xr.Dataset) -> xr.Dataset:
    """(Re)compute ``yield``, ``yield_lo``, ``yield_hi`` from ``converged`` over instances."""
    conv = ds["converged"]
    k = conv.sum("instance")
    n = conv.sizes["instance"]
    p, lo, hi = wilson_interval(k.values, n)
    dims = k.dims
    ds["yield"] = (dims, np.asarray(p), _attrs("1", "fraction of instances converged"))
    ds["yield_lo"] = (dims, np.asarray(lo), _attrs("1", "yield, lower end of the 95% Wilson interval"))
    ds["yield_hi"] = (dims, np.asarray(hi), _attrs("1", "yield, upper end of the 95% Wilson interval"))
    return ds
