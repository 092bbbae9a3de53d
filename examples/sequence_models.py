"""Three sequence models learn the same pointer task: each sequence of 8 digits starts with a
position p (1 to 7), and the answer is the digit at position p. An LSTM and a GRU must carry
every digit in their state until they know which one is asked for; an attention layer lets the
first token look the answer up by position. python examples/sequence_models.py --help"""

import argparse
import time

import numpy as np

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops, optim

LENGTH, DIGITS = 8, 10


def pointer_task(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n sequences (n, LENGTH) of digits whose first digit p is a position in 1..LENGTH-1, and
    their answers, the digit at position p."""
    ids = rng.integers(0, DIGITS, (n, LENGTH))
    ids[:, 0] = rng.integers(1, LENGTH, n)
    return ids, ids[np.arange(n), ids[:, 0]]


class Recurrent(nn.Module):
    """Embedding, an LSTM or GRU over the sequence, and a linear layer on its last state."""

    def __init__(self, kind: str, width: int = 32):
        self.embed = nn.Embedding(DIGITS, 16)
        self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[kind](16, width, batch_first=True)
        self.head = nn.Linear(width, DIGITS)

    def forward(self, ids):
        out, _ = self.rnn(self.embed(ids))            # (N, LENGTH, width)
        return self.head(out[:, -1])


class Attention(nn.Module):
    """Embedding plus a learned position vector for each place, then multi-head attention in
    which the first token (the pointer) is the one query, and a linear layer on its result."""

    def __init__(self, width: int = 32, heads: int = 4):
        self.embed = nn.Embedding(DIGITS, width)
        self.position = nn.Embedding(LENGTH, width)
        self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.head = nn.Linear(width, DIGITS)

    def forward(self, ids):
        x = self.embed(ids) + self.position(np.arange(LENGTH))      # (N, LENGTH, width)
        out, _ = self.attention(x[:, :1], x, x, need_weights=False)  # the pointer asks
        return self.head(out[:, 0])


def train(kind: str, steps: int, seed: int = 0, batch: int = 32) -> tuple[float, float]:
    """Train a `kind` model ("lstm", "gru" or "attention") for `steps` batches with Adam;
    returns (the last batch's loss, the accuracy on 1,000 new sequences)."""
    tc.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Attention() if kind == "attention" else Recurrent(kind)
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        ids, answers = pointer_task(batch, rng)
        optimizer.zero_grad()
        loss = ops.cross_entropy(model(ids), answers)
        loss.backward()
        optimizer.step()
    ids, answers = pointer_task(1000, rng)
    with tc.no_grad():
        accuracy = float((model(ids).data.argmax(axis=1) == answers).mean())
    return loss.item(), accuracy


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("python")[0].strip())
    parser.add_argument("--models", nargs="+", default=["lstm", "gru", "attention"],
                        choices=["lstm", "gru", "attention"])
    parser.add_argument("--steps", type=int, default=800, help="training batches of 32")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for kind in args.models:
        start = time.perf_counter()
        loss, accuracy = train(kind, args.steps, args.seed)
        print(f"{kind:9s}  last loss {loss:.3f}  accuracy {accuracy:.1%} on 1,000 new "
              f"sequences  ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
