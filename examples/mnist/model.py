"""The seed CNN: two 10x10 convolutions (28 -> 19 -> 10), a 2x2 max-pool (-> 5x5), flatten,
a linear layer to 10 class logits."""

from tinygrad_cnn import nn


class SeedCNN(nn.Module):
    """conv 10x10 -> ReLU -> conv 10x10 -> ReLU -> max-pool 2x2 -> flatten -> linear.

    channels=(c1, c2) sets the two convolutions' widths; (1, 1) is the literal seed.
    """

    def __init__(self, channels: tuple[int, int] = (16, 32)):
        super().__init__()
        c1, c2 = channels
        self.conv1 = nn.Conv2d(1, c1, kernel_size=10)     # (N, 1, 28, 28) -> (N, c1, 19, 19)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=10)    # -> (N, c2, 10, 10)
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)                       # -> (N, c2, 5, 5)
        self.flatten = nn.Flatten()                       # -> (N, c2 * 25)
        self.fc = nn.Linear(c2 * 5 * 5, 10)               # -> (N, 10) class logits

    def forward(self, x):
        x = self.relu1(self.conv1(x))
        x = self.relu2(self.conv2(x))
        return self.fc(self.flatten(self.pool(x)))
