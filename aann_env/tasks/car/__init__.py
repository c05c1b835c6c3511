"""The car-racing imitation task: the expert driver, the recorded data set, a network as a
driving policy, and closed-loop driving of ``CarRacing-v3``."""
