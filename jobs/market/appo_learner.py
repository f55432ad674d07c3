"""APPO's learner, made to train the same way every run on one machine."""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.appo.torch.appo_torch_learner import APPOTorchLearner
from ray.rllib.utils.metrics import ALL_MODULES, NUM_ENV_STEPS_TRAINED, NUM_ENV_STEPS_TRAINED_LIFETIME


class InOrderAPPOLearner(APPOTorchLearner):
    """RLlib's APPO learner updates in a background thread, and what it hands on depended on that thread's timing:
    two demo runs of one seed trained retargeting's APPO differently from the third iteration on, and the league
    carried it into every family's verdict. With ``build()``'s settings (``broadcast_interval`` 1, no circular
    buffer: each batch is one update, and RLlib's ``update`` waits for it), this learner fixes the two things left:

    - asked for its weights, RLlib's returned whichever state the thread had published when the call looked
      (usually the previous update's, sometimes this one's); this one reads the state after the update.
    - the target network moves when a count of trained env steps passes a threshold, and the algorithm's count
      arrives through metrics the thread reports on its own time (at the smoke profile's fourth update it was
      1,632 or 3,264 from run to run); this one counts the steps it trained itself.

    So a run on one machine repeats exactly. (Remote env runners on a cluster still sample asynchronously, by
    design.)"""

    _steps_trained = 0

    def update(self, training_data: Any, *, timesteps: dict[str, Any], return_state: bool = False,
               **kwargs: Any) -> dict[str, Any]:
        if self.config.broadcast_interval != 1:
            raise ValueError(f"InOrderAPPOLearner needs broadcast_interval 1, got {self.config.broadcast_interval}")
        result = super().update(training_data, timesteps=timesteps, return_state=False, **kwargs)
        if return_state:
            with self._learner_state_lock:
                # Published by the learner thread before it released the wait inside super().update().
                self._learner_state = self._learner_state_queue.get(timeout=60)
            result = {**result, "_rl_module_state_after_update": self._learner_state}
        return result

    def after_gradient_based_update(self, *, timesteps: dict[str, Any]) -> None:
        # The metrics are reduced after every update (broadcast_interval 1): this is the update's own count.
        self._steps_trained += int(self.metrics.peek((ALL_MODULES, NUM_ENV_STEPS_TRAINED), default=0))
        own = {**timesteps, NUM_ENV_STEPS_TRAINED_LIFETIME: self._steps_trained}
        super().after_gradient_based_update(timesteps=own)
