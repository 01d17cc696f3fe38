"""What a caller of `train_detector` can watch: the stages of training and each model fitted.

Training the default corpus fits about sixty models per featuriser (five for the threshold, one to
ship, one per held-out family), so a command line wants a progress bar and a checkpoint between
fits. The hooks are declared here with no-op defaults; training calls them and never asks what a
caller implements.
"""

from __future__ import annotations


class TrainHooks:
    def stage(self, name: str, fits: int) -> None:
        """A stage begins that will fit `fits` models (0 for one that fits none, such as embedding)."""

    def fitted(self) -> None:
        """One model of the current stage has been fitted."""


NO_HOOKS = TrainHooks()
