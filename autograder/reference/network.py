"""The three-layer sigmoid network of assignment 05, as reference numerics.

Shapes: ``w_ih`` is (hidden, inputs), ``w_ho`` is (outputs, hidden); inputs
and targets are columns, (inputs, batch) and (outputs, batch). Errors are
``targets - outputs`` and updates are *added*, as in Rashid's book:
ΔW = lr · (E ∘ O(1 − O)) · O_prevᵀ, summed over the columns of a batch.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit


def scale_inputs(pixels: np.ndarray, dtype=np.float64) -> np.ndarray:
    """0..255 → 0.01..1.00."""
    return (np.asarray(pixels, dtype=dtype) / 255.0 * 0.99 + 0.01).astype(dtype, copy=False)


def make_targets(labels: np.ndarray, n: int = 10, dtype=np.float64) -> np.ndarray:
    """(n, batch) targets: 0.01 everywhere, 0.99 in each label's row."""
    labels = np.atleast_1d(np.asarray(labels))
    targets = np.full((n, labels.size), 0.01, dtype=dtype)
    targets[labels, np.arange(labels.size)] = 0.99
    return targets


def init_weights(hidden: int, inputs: int, outputs: int, rng: np.random.Generator,
                 dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """w_ih from normal(0, inputs^-0.5) then w_ho from normal(0, hidden^-0.5)."""
    w_ih = rng.normal(0.0, inputs ** -0.5, size=(hidden, inputs)).astype(dtype)
    w_ho = rng.normal(0.0, hidden ** -0.5, size=(outputs, hidden)).astype(dtype)
    return w_ih, w_ho


def forward(w_ih: np.ndarray, w_ho: np.ndarray, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hidden and final outputs for columns of *inputs*."""
    hidden = expit(w_ih @ inputs)
    return hidden, expit(w_ho @ hidden)


def query(w_ih: np.ndarray, w_ho: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """Final outputs, (outputs, batch)."""
    return forward(w_ih, w_ho, inputs)[1]


def weight_changes(w_ih: np.ndarray, w_ho: np.ndarray, inputs: np.ndarray,
                   targets: np.ndarray, lr: float) -> tuple[np.ndarray, np.ndarray]:
    """ΔW_ih and ΔW_ho for a batch at fixed weights (the sum over its columns)."""
    hidden, outputs = forward(w_ih, w_ho, inputs)
    output_errors = targets - outputs
    hidden_errors = w_ho.T @ output_errors            # with w_ho from before any update
    delta_ho = lr * (output_errors * outputs * (1.0 - outputs)) @ hidden.T
    delta_ih = lr * (hidden_errors * hidden * (1.0 - hidden)) @ inputs.T
    return delta_ih, delta_ho


def train_step(w_ih: np.ndarray, w_ho: np.ndarray, inputs: np.ndarray,
               targets: np.ndarray, lr: float) -> tuple[np.ndarray, np.ndarray]:
    """New (w_ih, w_ho) after one update on *inputs* (one column: Rashid's step)."""
    delta_ih, delta_ho = weight_changes(w_ih, w_ho, inputs, targets, lr)
    return w_ih + delta_ih, w_ho + delta_ho


#: The slips of ``train`` that a replay can reproduce (for error carried forward from 05's network_train).
SLIPS = ("updated_first", "no_slope", "exact_gradient", "sign", "no_lr")


def slipped_step(w_ih: np.ndarray, w_ho: np.ndarray, inputs: np.ndarray, targets: np.ndarray, lr: float,
                 slip: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """New (w_ih, w_ho) after one step, the right one (*slip* None) or with one of :data:`SLIPS`."""
    if slip is None:
        return train_step(w_ih, w_ho, inputs, targets, lr)
    hidden, outputs = forward(w_ih, w_ho, inputs)
    errors = targets - outputs
    slope_out, slope_hidden = outputs * (1.0 - outputs), hidden * (1.0 - hidden)
    delta_ih, delta_ho = weight_changes(w_ih, w_ho, inputs, targets, lr)
    if slip == "updated_first":
        delta_ih = lr * (((w_ho + delta_ho).T @ errors) * slope_hidden) @ inputs.T
    elif slip == "no_slope":
        delta_ih, delta_ho = lr * (w_ho.T @ errors) @ inputs.T, lr * errors @ hidden.T
    elif slip == "exact_gradient":
        delta_ih = lr * ((w_ho.T @ (errors * slope_out)) * slope_hidden) @ inputs.T
    elif slip == "sign":
        delta_ih, delta_ho = -delta_ih, -delta_ho
    elif slip == "no_lr":
        delta_ih, delta_ho = delta_ih / lr, delta_ho / lr
    else:
        raise ValueError(f"unknown slip {slip!r}")
    return w_ih + delta_ih, w_ho + delta_ho


def replay(w_ih: np.ndarray, w_ho: np.ndarray, images: np.ndarray, labels: np.ndarray, lr: float, epochs: int,
           slip: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rashid's training from (w_ih, w_ho): *epochs* passes over *images* (0..255) in order, one step each."""
    w_ih, w_ho = np.array(w_ih, dtype=float), np.array(w_ho, dtype=float)
    inputs, targets = scale_inputs(images).T, make_targets(labels, w_ho.shape[0])
    for _ in range(epochs):
        for k in range(inputs.shape[1]):
            w_ih, w_ho = slipped_step(w_ih, w_ho, inputs[:, k:k + 1], targets[:, k:k + 1], lr, slip)
    return w_ih, w_ho


class PerSampleNetwork:
    """The exercise's network: one update per image, in a Python loop."""

    def __init__(self, inputs: int, hidden: int, outputs: int, lr: float, rng: np.random.Generator):
        self.w_ih, self.w_ho = init_weights(hidden, inputs, outputs, rng)
        self.lr = lr

    def train_epoch(self, images: np.ndarray, labels: np.ndarray) -> None:
        """One pass over *images* (n × inputs, 0..255) in order."""
        outputs = self.w_ho.shape[0]
        for pixels, label in zip(images, labels):
            inputs = scale_inputs(pixels).reshape(-1, 1)
            targets = np.full((outputs, 1), 0.01)
            targets[label] = 0.99
            self.w_ih, self.w_ho = train_step(self.w_ih, self.w_ho, inputs, targets, self.lr)

    def predict(self, images: np.ndarray) -> np.ndarray:
        return np.argmax(query(self.w_ih, self.w_ho, scale_inputs(images).T), axis=0)


class MiniBatchNetwork:
    """The same network trained on mini-batches with matrix products.

    Rows are examples here (batch × features), the layout that makes every
    product one large BLAS call on contiguous memory; the algebra is the
    transpose of :func:`weight_changes`. ``lr`` multiplies the *sum* of the
    changes over a batch, so a batch of one is exactly Rashid's step.
    """

    def __init__(self, inputs: int, hidden: int, outputs: int, lr: float, rng: np.random.Generator,
                 batch_size: int = 32, dtype=np.float32):
        w_ih, w_ho = init_weights(hidden, inputs, outputs, rng)
        self.w_ih, self.w_ho = w_ih.astype(dtype), w_ho.astype(dtype)
        self.lr, self.batch_size, self.dtype = lr, batch_size, np.dtype(dtype)

    def train_epoch(self, images: np.ndarray, labels: np.ndarray) -> None:
        """One pass over *images* (n × inputs, 0..255) in order, batch by batch."""
        x_all = scale_inputs(images, self.dtype)
        t_all = make_targets(labels, self.w_ho.shape[0], self.dtype).T
        lr = self.dtype.type(self.lr)
        for start in range(0, len(x_all), self.batch_size):
            x, t = x_all[start:start + self.batch_size], t_all[start:start + self.batch_size]
            hidden = expit(x @ self.w_ih.T)                       # (batch, hidden)
            out = expit(hidden @ self.w_ho.T)                     # (batch, outputs)
            errors = t - out                                      # (batch, outputs)
            delta_out = errors * out * (1 - out)
            delta_hidden = (errors @ self.w_ho) * hidden * (1 - hidden)   # errors split back raw
            self.w_ho += lr * (delta_out.T @ hidden)
            self.w_ih += lr * (delta_hidden.T @ x)

    def predict(self, images: np.ndarray) -> np.ndarray:
        hidden = expit(scale_inputs(images, self.dtype) @ self.w_ih.T)
        return np.argmax(hidden @ self.w_ho.T, axis=1)
