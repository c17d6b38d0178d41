"""A task plugin to copy: from position `lag` on, predict the token `lag` positions back. Run it with
python -m suite run --plugin examples/plugins/my_task.py --models mingru --tasks my-lag --preset tiny
"""

import torch

from suite import register_task
from tasks.base import Batch, Task


class Lag(Task):
    name = "my-lag"

    def __init__(self, vocab_size: int = 8, lag: int = 2):
        if lag < 1 or vocab_size < 2:
            raise ValueError(f"task 'my-lag' needs lag >= 1 and vocab_size >= 2, got {lag}, {vocab_size}")
        self.vocab_size, self.lag = int(vocab_size), int(lag)
        self.chance_accuracy = 1.0 / self.vocab_size  # a scored position can hold any token
        self.min_len, self.max_len = self.lag + 1, None

    def params(self) -> dict:  # recorded in every record as task_params
        return {"vocab_size": self.vocab_size, "lag": self.lag}

    def sample(self, generator, batch, seq_len) -> Batch:  # draw only from `generator`
        inputs = torch.randint(0, self.vocab_size, (batch, seq_len), generator=generator)
        targets = torch.zeros_like(inputs)
        targets[:, self.lag :] = inputs[:, : -self.lag]
        mask = (torch.arange(seq_len) >= self.lag).repeat(batch, 1)  # the positions scored
        return Batch(inputs, targets, mask)


register_task("my-lag", Lag, description="the token lag positions back (example plugin)")
