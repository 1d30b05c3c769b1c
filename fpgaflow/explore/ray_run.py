"""The points on Ray, through Ray Tune.

Why Tune and not Ray core tasks: the grid and the multi-objective search are one code path
(Tune's search algorithms, Optuna's NSGA-II among them, take the same trainable), each trial
declares its CPUs (`tune.with_resources`), a trial whose worker dies is an errored trial while
the others go on (FailureConfig(max_failures=0): a killed point is recorded, not retried
blindly), and Tune's driver stops cleanly on Ctrl-C. Results reach the driver as each trial
reports them; a Tune Callback appends them to results.jsonl at once (through Ray Client, where
Tune's driver runs on the cluster, they are taken from Tune's results when the run ends).

The trainable runs fpgaflow's own code (point.run_point): training, builds and verification
happen in the trial's worker, on whichever node Ray placed it.
"""
from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Callable

from ..core.errors import FpgaflowError
from . import results

OBJECTIVES = {  # what a search can optimize -> Tune's mode for it
    "accuracy": "max", "LUT": "min", "FF": "min", "DSP": "min", "BRAM_18K": "min", "URAM": "min",
    "latency_us": "min", "fps": "max",
}


class PointFailed(RuntimeError):
    """Raised after a failed point reported its record, so that a searcher counts it as failed."""


def metrics(record: dict) -> dict:
    """A point's figures as Tune metrics (one backend per point in a search), read as the fronts
    read them (results.value)."""
    out = {"accuracy": record["accuracy"]}
    for be in record["backends"].values():
        out.update({n: results.value(record, be, n) for n in OBJECTIVES})
    return {k: v for k, v in out.items() if v is not None}


def trainable(config: dict, job: dict) -> None:
    from ray import tune

    from .point import run_point

    point = config["point"] if "point" in config else dict(config)
    record = run_point(job, point)
    tune.report({"record": json.dumps(record), **metrics(record)})
    if not results.bit_exact(record) and job.get("search"):
        raise PointFailed(record["error"] or "not bit-exact or not built")


def _recorder(on_record: Callable[[dict], None], on_lost: Callable[[dict, str], None]):
    from ray import tune

    class Recorder(tune.Callback):
        """Runs in the driver: each point's record written as it arrives."""

        def __init__(self):
            self.seen = set()

        def on_trial_result(self, iteration, trials, trial, result, **info):
            if "record" in result and trial.trial_id not in self.seen:
                self.seen.add(trial.trial_id)
                on_record(json.loads(result["record"]))

        def on_trial_error(self, iteration, trials, trial, **info):
            if trial.trial_id in self.seen:
                return
            self.seen.add(trial.trial_id)
            point = trial.config["point"] if "point" in trial.config else dict(trial.config)
            on_lost(point, _why(_error_text(trial)))

    return Recorder()


def _error_text(trial) -> str:
    path = getattr(trial, "error_file", None) or ""
    return Path(path).read_text(errors="replace") if path and os.path.exists(path) else ""


def _why(text: str) -> str:
    """One line for a trial that ended without a record: its worker died (killed, out of memory)."""
    if "ActorDiedError" in text or "worker process has died" in text or "actor died" in text:
        pid = re.search(r"\bpid: (\d+)", text)
        return (f"the trial's worker process{f' (pid {pid.group(1)})' if pid else ''} died before the point ended: "
                f"killed, or out of memory")
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.startswith((" ", "Traceback"))]
    return f"the trial failed without a result: {lines[-1][:200] if lines else 'no error text'}"


def _token_mode(address: str | None) -> None:
    """`ray start` clusters check a token; a driver joining one sends it only in token mode, read
    when ray is imported: set before that, where a token is at hand."""
    token = os.environ.get("RAY_AUTH_TOKEN") or Path(os.environ.get("RAY_AUTH_TOKEN_PATH", "~/.ray/auth_token")
                                                      ).expanduser().is_file()
    if address and token and "RAY_AUTH_MODE" not in os.environ:
        os.environ["RAY_AUTH_MODE"] = "token"


def start(address: str | None, need: dict) -> None:
    """Ray up (local, or the cluster at `address`), refusing a trial size no node could hold."""
    import ray

    env = {k: os.environ[k] for k in ("FPGAFLOW_DATA", "FPGAFLOW_DESIGNS") if k in os.environ}
    kwargs = dict(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
                  runtime_env={"env_vars": env} if env else None)
    try:
        ray.init(address=address, **kwargs)  # None: a local instance
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise FpgaflowError(f"--address {address}: cannot connect to Ray ({str(e).strip().splitlines()[0]}); a "
                            f"cluster from `ray start` checks a token: copy the head's ~/.ray/auth_token here or set "
                            f"RAY_AUTH_TOKEN") from None
    have = ray.cluster_resources()
    where = "cluster" if address else "local Ray instance"
    for key, flag, unit in (("CPU", "--cpus-per-trial", 1), ("memory", "--memory-gb", 2**30)):
        want = need.get(key.lower())
        if want and have.get(key, 0) < want:
            ray.shutdown()
            raise FpgaflowError(f"{flag} {want / unit:g}: the {where} has {have.get(key, 0) / unit:g}, no trial "
                                f"could ever start")


def run(job: dict, todo: list[dict], on_record, on_lost, address: str | None = None, search: dict | None = None,
        done: list[dict] | None = None) -> int:
    """Run the points (grid: `todo`; search: `search['trials']` trials over `search['space']`,
    the records `done` among them); the number of points that ended (recorded)."""
    _token_mode(address)
    import ray
    from ray import tune

    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"  # the old engine is silent at verbose=0; the new one prints its box
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no TensorBoard/CSV files per trial
    for name in ("ray", "ray.tune", "ray.air", "ray.train"):  # a failed point is our one line, not Tune's traceback
        logging.getLogger(name).setLevel(logging.CRITICAL)
    need = {"cpu": job["cpus_per_trial"]}
    if job.get("memory_gb"):  # Ray then places no more trials on a node than its memory holds
        need["memory"] = int(job["memory_gb"] * 2**30)
    start(address, need)
    try:
        recorder = _recorder(on_record, on_lost)
        # a fresh process per point (reuse_actors=False below): its peak memory is its own and no
        # state of one point reaches the next
        fn = tune.with_resources(tune.with_parameters(trainable, job=job), need)
        if search:
            param_space, tune_config = _search(search, done or [])
        else:
            param_space = {"point": tune.grid_search(todo)}
            tune_config = tune.TuneConfig(num_samples=1, reuse_actors=False)
        # through Ray Client (ray://) Tune's driver runs on the cluster, callbacks with it: the
        # records are then taken from the results when the sweep ends
        client = bool(address and address.startswith("ray://"))
        run_config = tune.RunConfig(
            name="tune", storage_path=str(Path(job["folder"]).resolve()), verbose=0,
            failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
            callbacks=[] if client else [recorder])
        tuner = tune.Tuner(fn, param_space=param_space, tune_config=tune_config, run_config=run_config)
        grid = tuner.fit()  # Ctrl-C: Tune stops its trials and returns; fewer points than asked then ended
        if not client:
            return len(recorder.seen)
        for r in grid:
            if r.metrics and "record" in r.metrics:
                on_record(json.loads(r.metrics["record"]))
            elif r.error is not None:
                on_lost(r.config["point"] if "point" in r.config else dict(r.config), _why(repr(r.error)))
        return len(grid)
    finally:
        ray.shutdown()


def _search(search: dict, done: list[dict]):
    """Optuna's NSGA-II over the space's choices, the objectives as Tune metrics. On --resume the
    earlier points come first (enqueued): their trials return their stored records at once
    (point.run_point), so the sampler learns them through the same path as new ones."""
    import optuna
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # its study-created lines would break the bar
    names = search["objectives"]
    # NSGA-II samples its first generation at random: a generation of a third of the budget (at
    # least 4, at most Optuna's default 50) leaves room for the later, selected ones
    population = max(4, min(50, search["trials"] // 3))
    # resumed: seeded past the earlier points, or the sampler would draw the first run's points again
    sampler = optuna.samplers.NSGAIISampler(population_size=population, seed=search["seed"] + len(done))
    searcher = OptunaSearch(metric=names, mode=[OBJECTIVES[n] for n in names], sampler=sampler,
                            points_to_evaluate=[dict(r["point"]) for r in done] or None)
    space = {k: tune.choice(v) for k, v in search["space"].items()}
    return space, tune.TuneConfig(search_alg=searcher, num_samples=search["trials"], reuse_actors=False)
