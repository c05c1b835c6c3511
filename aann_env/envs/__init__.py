"""The Gymnasium environments (``AANN-MNIST-v0``, ``AANN-CarRacing-v0``) and the PettingZoo layer
team, on one search core. Modules, in import order (each imports only those above it):

| module | holds |
|---|---|
| ``checks``, ``scoring``, ``selection`` | argument checks; the scoring and selection images (and the ``SwapScorer`` seam); the SENSE decision |
| ``observations``, ``schedule``, ``proposal`` | observation features and the step history; the cost model and schedule decisions; candidate features |
| ``core`` | :class:`~aann_env.envs.core.FamilySearch`: network, scoring, generator, costs; the SENSE step |
| ``search_env`` | :class:`~aann_env.envs.search_env.AANNEnv`, the base every formulation shares |
| ``swap_env``, ``layer_env``, ``schedule_env``, ``proposal_env`` | one formulation each (``action_mode``) |
| ``wrappers``, ``factory``, ``registration`` | ``EpisodeTestAccuracy`` and ``WeightsObservation``; the ``gym.make`` entry point; the ids |
| ``layer_team_parts``, ``layer_team``, ``layer_team_v0`` | the PettingZoo layer team (imports PettingZoo: loaded only on use) |
"""
