"""Backprop training: the straight-through latent network and the p-SIREN sweep (``aann train``)."""
