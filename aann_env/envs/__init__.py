"""The Gymnasium environments (``AANN-MNIST-v0``, ``AANN-CarRacing-v0``), their observation
features, wrappers and registration."""
