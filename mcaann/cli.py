"""The ``mcaann`` command line: parses, calls the library, prints. No physics here."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mcaann.errors import McaannWarning, StudyError, Terminated
from mcaann.units import parse_cli_value, warn_suffix

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Monte Carlo simulation of self-training analogue neural-network circuits.")
console = Console(stderr=False)
err_console = Console(stderr=True)


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def _split_values(text: str) -> list[str]:
    """Split ``v1,v2,...`` on commas outside brackets."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [v for v in (s.strip() for s in out) if v]


def parse_assignments(sets: list[str] | None, sweeps: list[str] | None) -> tuple[dict, dict]:
    """``--set k=v`` and ``--sweep k=v1,v2`` into dicts; StudyError on malformed ones."""
    ov, sw = {}, {}
    for s in sets or []:
        key, eq, val = s.partition("=")
        if not eq or not key.strip():
            raise StudyError(f"--set {s!r}: expected key.path=value")
        if key.strip() in ov:
            raise StudyError(f"--set {key.strip()}: given twice")
        ov[key.strip()] = parse_cli_value(val)
        if isinstance(ov[key.strip()], float):
            warn_suffix(key.strip(), val, ov[key.strip()])
    for s in sweeps or []:
        key, eq, val = s.partition("=")
        if not eq or not key.strip():
            raise StudyError(f"--sweep {s!r}: expected key.path=v1,v2,...")
        values = [parse_cli_value(v) for v in _split_values(val)]
        if not values:
            raise StudyError(f"--sweep {key.strip()}: no values")
        if key.strip() in sw:
            raise StudyError(f"--sweep {key.strip()}: given twice")
        sw[key.strip()] = values
    return ov, sw


StudyArg = Annotated[str | None, typer.Argument(help="TOML file or built-in study name (default: xor)")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="override a study field: key.path=value")]
SweepOpt = Annotated[list[str] | None, typer.Option("--sweep", help="sweep a field: key.path=v1,v2,...")]


def _load(study, sets, sweeps, instances=None, seed=None):
    from mcaann.study.load import load_study

    with _one_line_warnings():
        ov, sw = parse_assignments(sets, sweeps)
    if instances is not None:
        ov["monte_carlo.instances"] = instances
    if seed is not None:
        ov["monte_carlo.seed"] = seed
    return load_study(study, ov, sw)


@contextlib.contextmanager
def _progress_bar(name: str, show: bool):
    """A progress callback ``(done, total)`` drawing a bar on a terminal, or ``None``."""
    if not show:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("instances"), TimeRemainingColumn(), console=console) as bar:
        tid = bar.add_task(name, total=None)
        yield lambda done, total: bar.update(tid, completed=done, total=total)


@contextlib.contextmanager
def _sigterm_as_exception():
    """SIGTERM (a batch scheduler's stop) raises ``Terminated`` in the main thread, so that it
    unwinds like Ctrl-C: finished parts kept, temporary files removed."""
    def handler(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _one_line_warnings():
    """mcaann's warnings as one ``warning: ...`` line each on stderr."""
    def show(message, category, filename, lineno, file=None, line=None):
        typer.echo(f"warning: {message}", err=True)

    with warnings.catch_warnings():
        warnings.simplefilter("default", McaannWarning)
        warnings.showwarning = show
        yield


def _parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    k, sep, n = text.partition("/")
    try:
        shard = (int(k), int(n))
    except ValueError:
        raise StudyError(f"--shard: expected K/N (e.g. 0/4), got {text!r}") from None
    if not sep or not 0 <= shard[0] < shard[1]:
        raise StudyError(f"--shard: expected K/N with 0 <= K < N, got {text!r}")
    return shard


@app.command()
def run(
    study: StudyArg = None,
    out: Annotated[Path | None, typer.Option(help="result file (default results/<study>.nc)")] = None,
    instances: Annotated[int | None, typer.Option(help="number of instances (chips)")] = None,
    seed: Annotated[int | None, typer.Option(help="study seed")] = None,
    set_: SetOpt = None,
    sweep: SweepOpt = None,
    threads: Annotated[int | None, typer.Option(help="threads (default: all cores)")] = None,
    shard: Annotated[str | None, typer.Option(help="run shard K/N of an array job (then mcaann merge)")] = None,
    dask: Annotated[str | None, typer.Option(help="Dask scheduler address, or 'local'")] = None,
    keep_every: Annotated[int | None, typer.Option(help="keep every k-th epoch of the learning curves")] = None,
    curves_float32: Annotated[bool, typer.Option(help="store learning curves as float32")] = False,
    chunk: Annotated[int | None, typer.Option(help="instances per task (results do not depend on it)")] = None,
    check_dt: Annotated[bool, typer.Option("--check-dt", help="rerun 64 instances at dt/2 and compare")] = False,
    quiet: Annotated[bool, typer.Option(help="no progress bar or summary")] = False,
) -> None:
    """Run a study and write its result dataset (netCDF). Rerun the same command to resume."""
    from mcaann.report.summary import summary_table
    from mcaann.scale import parts_dir, run_study
    from mcaann.scale import validate as validate_run

    try:
        extra = list(set_ or [])
        if keep_every is not None:
            extra.append(f"output.keep_every={keep_every}")
        if curves_float32:
            extra.append("output.curves_dtype=float32")
        with _one_line_warnings():
            st = _load(study, extra, sweep, instances, seed)
        shard_kn = _parse_shard(shard)
        if threads is not None and threads < 1:
            raise StudyError("--threads: must be at least 1")
        path = out if out is not None else Path("results") / (
            f"{st.name}.nc" if shard_kn is None else f"{st.name}.part{shard_kn[0]}.nc")
        protect = (Path(study),) if study is not None and Path(study).is_file() else ()
        plan = validate_run(st, out=path, shard=shard_kn, chunk=chunk, protect=protect)
    except StudyError as exc:
        _fail(str(exc))
    if plan.overwrites and not quiet:
        typer.echo(f"note: {path} exists and is replaced when this run finishes", err=True)
    show = not quiet and sys.stdout.isatty()
    try:
        with _sigterm_as_exception(), _one_line_warnings(), _progress_bar(st.name, show) as progress:
            ds = run_study(st, threads=threads, out=path, shard=shard_kn, dask=dask, chunk=chunk,
                           check_dt_sample=64 if check_dt else None, progress=progress)
    except StudyError as exc:
        _fail(str(exc))
    except (KeyboardInterrupt, Terminated) as exc:
        typer.echo(f"{'terminated' if isinstance(exc, Terminated) else 'interrupted'}: finished tasks are kept in "
                   f"{parts_dir(path)}; run the same command again to resume", err=True)
        raise typer.Exit(143 if isinstance(exc, Terminated) else 130) from None
    if not quiet:
        console.print(summary_table(ds))
        console.print(f"written: {path}")


@app.command()
def budget(
    study: StudyArg = None,
    out: Annotated[Path | None, typer.Option(help="budget file (default results/<study>.budget.nc)")] = None,
    instances: Annotated[int | None, typer.Option(help="number of instances (chips)")] = None,
    seed: Annotated[int | None, typer.Option(help="study seed")] = None,
    set_: SetOpt = None,
    threads: Annotated[int | None, typer.Option(help="threads (default: all cores)")] = None,
    shard: Annotated[str | None, typer.Option(help="budget of shard K/N of the chips (join with merge-budget)")] = None,
    dask: Annotated[str | None, typer.Option(help="Dask scheduler address, or 'local'")] = None,
    chunk: Annotated[int | None, typer.Option(help="instances per task (results do not depend on it)")] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bar or table")] = False,
) -> None:
    """Yield budget: rerun the study's chips with each kind of variation removed, and doubled. Rerun the same
    command to resume."""
    from mcaann.report.summary import budget_table
    from mcaann.scale.budget import run_budget

    try:
        with _one_line_warnings():
            st = _load(study, set_, None, instances, seed)
        shard_kn = _parse_shard(shard)
        if threads is not None and threads < 1:
            raise StudyError("--threads: must be at least 1")
        if chunk is not None and chunk < 1:
            raise StudyError("--chunk: must be at least 1")
        path = out if out is not None else Path("results") / (
            f"{st.name}.budget.nc" if shard_kn is None else f"{st.name}.budget.part{shard_kn[0]}.nc")
        from mcaann.io.netcdf import check_target

        protect = (Path(study),) if study is not None and Path(study).is_file() else ()
        check_target(path, protect=protect)
    except StudyError as exc:
        _fail(str(exc))
    show = not quiet and sys.stdout.isatty()
    try:
        with _sigterm_as_exception(), _one_line_warnings(), _progress_bar(st.name, show) as progress:
            ds = run_budget(st, out=path, threads=threads, dask=dask, chunk=chunk, shard=shard_kn, progress=progress)
    except StudyError as exc:
        _fail(str(exc))
    except (KeyboardInterrupt, Terminated) as exc:
        from mcaann.scale import parts_dir

        typer.echo(f"{'terminated' if isinstance(exc, Terminated) else 'interrupted'}: finished tasks are kept in "
                   f"{parts_dir(path)}; run the same command again to resume", err=True)
        raise typer.Exit(143 if isinstance(exc, Terminated) else 130) from None
    if not quiet:
        console.print(budget_table(ds))
        console.print(f"written: {path} ({ds.attrs['runs']} runs, {ds.attrs['wall_time']:.1f} s)")


@app.command()
def allocate(
    study: StudyArg = None,
    target_yield: Annotated[float, typer.Option(help="yield to reach (Wilson lower bound, tuning chips)")] = 0.99,
    out: Annotated[Path | None, typer.Option(help="allocated study (default results/<study>_allocated.toml)")] = None,
    instances: Annotated[int | None, typer.Option(help="tuning chips")] = None,
    seed: Annotated[int | None, typer.Option(help="seed of the tuning chips")] = None,
    check_seed: Annotated[int | None, typer.Option(help="seed of the fresh chips (default: tuning seed + 1)")] = None,
    check_instances: Annotated[int | None, typer.Option(help="fresh chips (default: as many as tuning)")] = None,
    max_area_factor: Annotated[float | None, typer.Option(
        help="largest area per kind, times the study's (default 1024)")] = None,
    set_: SetOpt = None,
    threads: Annotated[int | None, typer.Option(help="threads (default: all cores)")] = None,
    dask: Annotated[str | None, typer.Option(help="Dask scheduler address, or 'local'")] = None,
    chunk: Annotated[int | None, typer.Option(help="instances per task (results do not depend on it)")] = None,
    quiet: Annotated[bool, typer.Option(help="no progress lines or table")] = False,
) -> None:
    """Device areas per kind that reach a target yield at the least chip area; checked on fresh chips."""
    from mcaann.fsutil import atomic_write_text
    from mcaann.io.netcdf import check_target
    from mcaann.report.summary import allocation_table
    from mcaann.scale.allocate import allocate as run_allocate
    from mcaann.scale.allocate import allocation_toml

    try:
        with _one_line_warnings():
            st = _load(study, set_, None, instances, seed)
        if threads is not None and threads < 1:
            raise StudyError("--threads: must be at least 1")
        if check_instances is not None and check_instances < 1:
            raise StudyError("--check-instances: must be at least 1")
        path = out if out is not None else Path("results") / f"{st.name}_allocated.toml"
        protect = (Path(study),) if study is not None and Path(study).is_file() else ()
        check_target(path, protect=protect)
        if path.suffix != ".toml":
            raise StudyError(f"--out {path}: an allocated study is a .toml file")
    except StudyError as exc:
        _fail(str(exc))
    try:
        with _sigterm_as_exception(), _one_line_warnings():
            limit = {} if max_area_factor is None else {"max_factor": max_area_factor}
            a = run_allocate(st, target_yield, check_seed=check_seed, check_instances=check_instances, **limit,
                             threads=threads, dask=dask, chunk=chunk, progress=None if quiet else console.print)
    except StudyError as exc:
        _fail(str(exc))
    except (KeyboardInterrupt, Terminated) as exc:
        typer.echo(f"{'terminated' if isinstance(exc, Terminated) else 'interrupted'}: nothing written", err=True)
        raise typer.Exit(143 if isinstance(exc, Terminated) else 130) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, allocation_toml(a))
    if not quiet:
        console.print(allocation_table(a))
        console.print(f"written: {path} (run it: mcaann run {path})")


@app.command("merge-budget")
def merge_budget(
    parts: Annotated[list[Path], typer.Argument(help="budget files written with --shard K/N")],
    out: Annotated[Path, typer.Option(help="merged budget file")],
) -> None:
    """Join the shards of a yield budget into the budget of all their chips."""
    from mcaann.io.netcdf import check_target, write_result
    from mcaann.report.summary import budget_table
    from mcaann.scale.budget import merge_budget_files

    try:
        check_target(out, protect=tuple(parts))
        ds = merge_budget_files(parts)
        write_result(ds, out)
    except StudyError as exc:
        _fail(str(exc))
    console.print(budget_table(ds))
    console.print(f"written: {out}")


@app.command()
def merge(
    parts: Annotated[list[Path], typer.Argument(help="part files written with --shard K/N")],
    out: Annotated[Path, typer.Option(help="merged result file")],
) -> None:
    """Join the shards of an array job into the file a single run writes."""
    from mcaann.io.netcdf import check_target, write_result
    from mcaann.report.summary import summary_table
    from mcaann.scale import merge_parts

    try:
        check_target(out, protect=tuple(parts))
        ds = merge_parts(parts)
        write_result(ds, out)
    except StudyError as exc:
        _fail(str(exc))
    console.print(summary_table(ds))
    console.print(f"written: {out}")


@app.command()
def studies() -> None:
    """List the built-in studies."""
    from rich.table import Table

    from mcaann.study.load import builtin_studies, load_study

    t = Table("name", "layers", "dataset", "description")
    for name in builtin_studies():
        st = load_study(name)
        t.add_row(name, str(st.network.layers), st.task.dataset, st.description)
    console.print(t)


@app.command()
def show(study: StudyArg = None, set_: SetOpt = None, sweep: SweepOpt = None) -> None:
    """Print the fully resolved study (every default filled in) as TOML."""
    from mcaann.study.load import study_to_toml

    try:
        with _one_line_warnings():
            st = _load(study, set_, sweep)
    except StudyError as exc:
        _fail(str(exc))
    print(study_to_toml(st), end="")


@app.command()
def validate(study: StudyArg = None, set_: SetOpt = None, sweep: SweepOpt = None) -> None:
    """Check a study (fields, dataset, sweep) and exit: 0 valid, 2 invalid; print the result's size."""
    from mcaann.scale import validate as validate_run
    from mcaann.scale.plan import format_bytes

    try:
        with _one_line_warnings():
            st = _load(study, set_, sweep)
            plan = validate_run(st)
    except StudyError as exc:
        _fail(str(exc))
    console.print(f"{st.name}: valid; estimated result size {format_bytes(plan.est_bytes)}")


@app.command()
def spice(
    study: StudyArg = None,
    instance: Annotated[int, typer.Option(help="instance (chip) to export, 0-based")] = 0,
    out: Annotated[Path | None, typer.Option(help="netlist file (default results/<study>-<instance>.cir)")] = None,
    point: Annotated[int | None, typer.Option(help="sweep point to export, 0-based, first sweep key slowest")] = None,
    check: Annotated[bool, typer.Option(help="run ngspice and the engine on it; print max |w difference|")] = False,
    devices: Annotated[str, typer.Option(
        help="eqprop synapses as behavioural sources, or 'mos': level-1 MOSFETs (square-law pair)")] = "behavioural",
    instances: Annotated[int | None, typer.Option(help="number of instances (chips)")] = None,
    seed: Annotated[int | None, typer.Option(help="study seed")] = None,
    set_: SetOpt = None,
    sweep: SweepOpt = None,
) -> None:
    """Write an ngspice netlist of one instance (block-level, its own sampled parameters)."""
    import time

    from mcaann.engine.driver import study_task
    from mcaann.spice.netlist import netlist, sweep_point

    try:
        st = sweep_point(_load(study, set_, sweep, instances, seed), point)
        task = study_task(st)
        if st.network.learning == "eqprop":
            from mcaann.spice.eqprop_netlist import eqprop_netlist
            from mcaann.spice.netlist import instance_parameters

            params = {k: v[None] for k, v in instance_parameters(st, instance).items()}
            text = eqprop_netlist(st, params, 0, task.x[0], label=instance, devices=devices)
        elif devices != "behavioural":
            raise StudyError("--devices: applies to an eqprop study (network.learning = \"eqprop\")")
        else:
            text = netlist(st, instance)
    except StudyError as exc:
        _fail(str(exc))
    path = out or Path("results") / f"{st.name}-{instance}.cir"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        _fail(f"--out {path}: {exc.strerror}")
    console.print(f"written: {path}")
    if not check:
        return
    from mcaann.spice.ngspice import NgspiceError, check_instance, ngspice_available

    if not ngspice_available():
        _fail("--check: ngspice is not installed (apt-get install ngspice)", 1)
    t0 = time.perf_counter()
    if st.network.learning == "eqprop":
        from mcaann.spice.eqprop_netlist import check_epoch, check_free_phase

        try:
            diff = check_free_phase(st, instance, devices=devices)
            dw = check_epoch(st, instance, devices)
        except NgspiceError as exc:
            _fail(str(exc), 1)
        console.print(f"ngspice vs engine: free-phase equilibrium of every row, max |v difference| = "
                      f"{diff * 1e6:.3g} uV; weights after one epoch (ngspice phases), max |w difference| = "
                      f"{dw * 1e6:.3g} uV ({time.perf_counter() - t0:.1f} s)")
        return
    try:
        diff = check_instance(st, instance)
    except NgspiceError as exc:
        _fail(str(exc), 1)
    except KeyboardInterrupt:
        typer.echo("interrupted: netlist written, no check", err=True)
        raise typer.Exit(130) from None
    console.print(f"ngspice vs engine ({st.integrator.method}, dt = {st.integrator.dt:g} s, noise off): "
                  f"max |w difference| = {diff * 1e6:.3g} uV ({time.perf_counter() - t0:.1f} s)")


@app.command()
def report(
    result: Annotated[Path, typer.Argument(help="result file (.nc)")],
    plots: Annotated[Path | None, typer.Option(help="folder for PNG figures")] = None,
) -> None:
    """Summary tables (and, with --plots, figures) of a result file."""
    from mcaann.io.netcdf import open_result
    from mcaann.report.summary import summary_table

    if not result.is_file():
        _fail(f"{result}: no such file")
    try:
        ds = open_result(result)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is bad input
        _fail(f"{result}: not a result file ({exc.__class__.__name__})")
    if plots is not None:
        if plots.exists() and not plots.is_dir():
            _fail(f"--plots {plots}: not a folder")
        from mcaann.io.netcdf import nearest_folder

        if not os.access(nearest_folder(plots / "x"), os.W_OK | os.X_OK):
            _fail(f"--plots {plots}: folder is not writable")
    from mcaann.report.figures import is_budget, write_figures

    if is_budget(ds):
        from mcaann.report.summary import budget_table

        console.print(budget_table(ds))
        for p in write_figures(ds, plots) if plots is not None else ():
            console.print(f"figure: {p}")
        return
    missing = [v for v in ("mse", "converged", "yield", "w_final") if v not in ds] + (
        [] if "study" in ds.attrs else ["attribute study"])
    if missing:
        _fail(f"{result}: not an mcaann result file (no {', '.join(missing)})")
    console.print(summary_table(ds))
    from mcaann.report.figures import attribution_table

    console.print(attribution_table(ds))
    from mcaann.report.strategies import paired_table, shows_strategies, strategy_table

    if shows_strategies(ds):
        console.print(strategy_table(ds))
    if (paired := paired_table(ds)) is not None:
        console.print(paired)
    if plots is not None:
        for p in write_figures(ds, plots):
            console.print(f"figure: {p}")


@app.command()
def characterise(
    block: Annotated[str, typer.Argument(help="pair, multiplier, neuron, derivative, pump or capacitor")],
    out: Annotated[Path, typer.Option(help="result file (.nc): fitted block parameters per sample")],
    pdk: Annotated[str, typer.Option(help="process design kit")] = "ihp_sg13g2",
    samples: Annotated[int, typer.Option(help="Monte Carlo samples")] = 200,
    seed: Annotated[int, typer.Option(help="seed of the mismatch draws")] = 1,
    w: Annotated[str, typer.Option(help="device width [m] (SPICE suffixes accepted)")] = "2u",
    l: Annotated[str, typer.Option(help="device length [m]")] = "2u",
    i_tail: Annotated[str | None, typer.Option(help="tail reference current [A] (default per block)")] = None,
    preset: Annotated[Path | None, typer.Option(help="add this block's sigmas to a preset file (.toml)")] = None,
) -> None:
    """Transistor-level Monte Carlo of one block in a PDK (VACASK); fit the block model per sample."""
    from rich.table import Table

    from mcaann.pdk import characterise as ch
    from mcaann.pdk.cells import BLOCKS, Design
    from mcaann.pdk.tools import PdkMissing, SimulationError, which_missing

    if block not in BLOCKS:
        _fail(f"BLOCK: unknown {block!r} (known: {', '.join(BLOCKS)})")
    if pdk not in ch.PDKS:
        _fail(f"--pdk: unknown {pdk!r} (known: {', '.join(ch.PDKS)})")
    if not 3 <= samples <= 100_000:
        _fail(f"--samples: must be 3 to 100000 (got {samples})")
    try:
        wv, lv = float(parse_cli_value(w)), float(parse_cli_value(l))
        it = None if i_tail is None else float(parse_cli_value(i_tail))
    except (TypeError, ValueError) as exc:
        _fail(f"--w/--l/--i-tail: not a number ({exc})")
    if not 0.15e-6 <= wv <= 10e-6:
        _fail(f"--w: {wv:g} m outside the lv model's range 0.15u to 10u")
    if not 0.13e-6 <= lv <= 10e-6:
        _fail(f"--l: {lv:g} m outside the lv model's range 0.13u to 10u")
    if it is not None and not 1e-12 <= it <= 1e-3:
        _fail(f"--i-tail: {it:g} A outside 1p to 1m")
    if out.suffix != ".nc" or out.is_dir():
        _fail(f"--out: {out} must be a .nc file")
    if preset is not None and (preset.suffix != ".toml" or preset.is_dir()):
        _fail(f"--preset: {preset} must be a .toml file")
    if preset is not None:
        try:
            ch.check_preset_target(preset)
        except ValueError as exc:
            _fail(str(exc))
    if (why := which_missing()) is not None:
        _fail(why)
    design = Design(w=wv, l=lv, i_tail=it)
    try:
        r = ch.characterise(block, samples, seed, design)
        ds = ch.to_dataset(r, design, seed)
        tables = ch.preset_tables(r, design) if preset is not None else None
    except PdkMissing as exc:
        _fail(str(exc))
    except ValueError as exc:
        _fail(str(exc))
    except SimulationError as exc:
        _fail(str(exc), 1)
    except KeyboardInterrupt:
        typer.echo("interrupted: nothing written", err=True)
        raise typer.Exit(130) from None
    try:
        ch.write_dataset(ds, out)
        if tables is not None:
            ch.write_preset(preset, tables)
    except OSError as exc:
        _fail(f"--out/--preset: {exc.strerror}")
    t = Table("parameter", "unit", "Pelgrom (ihp_sg13g2 preset)", "transistor level [95 % CI]",
              title=f"{block}: {int(r.physical.sum())}/{samples} physical samples, "
                    f"{1e3 * r.seconds / (samples + 1):.2f} ms per sample, nominal fit residual "
                    f"{100 * r.nominal_residual:.2g} % of full scale")
    for row in ch.comparison(r, design):
        pel = "-" if row.pelgrom != row.pelgrom else f"{row.pelgrom:.4g}"
        t.add_row(row.param, row.unit, pel, f"{row.sigma:.4g} [{row.lo:.4g}, {row.hi:.4g}]")
    console.print(t)
    console.print(f"written: {out}" + (f" and {preset}" if preset is not None else ""))


@app.command()
def bench(quick: Annotated[bool, typer.Option(help="smaller runs (a rough table in about a minute)")] = False) -> None:
    """Measure the engine against NumPy, ngspice and this machine's ceiling; print one table."""
    from rich.table import Table

    from mcaann.bench.engine_bench import run_benchmark

    t = Table("what", "instance-steps/s or ratio", title="mcaann benchmark")
    for what, fig in run_benchmark(quick):
        t.add_row(what, fig)
    console.print(t)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
