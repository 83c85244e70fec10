"""Scale-out: plan (tasks, validation, size), backend (local threads or Dask), store (the resume
folder), assemble (task results -> dataset), merge (shards -> the single-run file), run (``run_study``)."""

from mcaann.scale.merge import merge_parts
from mcaann.scale.plan import Plan, TaskKey, estimate_bytes, plan_tasks, shard_range, validate
from mcaann.scale.run import check_dt, run_study
from mcaann.scale.store import PartStore, parts_dir

__all__ = ["Plan", "PartStore", "TaskKey", "check_dt", "estimate_bytes", "merge_parts", "parts_dir", "plan_tasks",
           "run_study", "shard_range", "validate"]
