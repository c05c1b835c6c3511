"""Run directories: one writer at a time, config and resume guard, history CSVs with one schema
each, and checkpoints that keep the previous one."""
