"""The scale-out lives in :mod:`mcaann.scale`; this module keeps the old import path working."""

from mcaann.scale.assemble import assemble
from mcaann.scale.backend import RESULT_FIELDS, connect_dask, run_task
from mcaann.scale.plan import (
    SHAPE_KEYS,
    Plan,
    TaskKey,
    default_chunk,
    estimate_bytes,
    format_bytes,
    instance_steps,
    plan_tasks,
    shard_range,
    validate,
)
from mcaann.scale.run import CHECK_DT_MSE_FRACTION, CHECK_DT_TOLERANCE_V, check_dt, run_study

__all__ = ["CHECK_DT_MSE_FRACTION", "CHECK_DT_TOLERANCE_V", "RESULT_FIELDS", "SHAPE_KEYS", "Plan", "TaskKey",
           "assemble", "check_dt",
           "connect_dask", "default_chunk", "estimate_bytes", "format_bytes", "instance_steps", "plan_tasks",
           "run_study", "run_task", "shard_range", "validate"]
