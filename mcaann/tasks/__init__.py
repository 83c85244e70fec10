"""Tasks: the rows a network is trained on (built-in datasets and a CSV loader)."""

from mcaann.tasks.datasets import BUILTIN_TASKS, TaskData, load_task

__all__ = ["BUILTIN_TASKS", "TaskData", "load_task"]
