"""``python -m aann_env.tasks.mnist``: build the MNIST cache."""

from aann_env.tasks.mnist.dataset import main

raise SystemExit(main())
