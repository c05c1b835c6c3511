"""``python -m aann_env.tasks.car``: record the car data set into the cache."""

from aann_env.tasks.car.dataset import main

raise SystemExit(main())
