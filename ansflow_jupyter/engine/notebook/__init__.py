"""Notebook steps: the runner (inside the step process) and the engine's side of its
control channel."""
