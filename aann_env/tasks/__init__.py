"""Tasks: what a network is searched for. Each has an architecture, an input offset and a data set
with train / valid / test splits, loaded once per process through one verified cache.

- :mod:`aann_env.tasks.split`: :class:`Split`, one split's pixel codes and labels.
- :mod:`aann_env.tasks.registry`: :class:`Task`, ``TASKS`` and :func:`get_task`.
- :mod:`aann_env.tasks.cache`: the verified dataset cache (version, config, SHA-256) MNIST and car share.
- :mod:`aann_env.tasks.mnist`, :mod:`aann_env.tasks.car`: each task's data.
"""

from aann_env.tasks.registry import TASKS, Task, get_task
from aann_env.tasks.split import SPLITS, Split

__all__ = ["SPLITS", "TASKS", "Split", "Task", "get_task"]
