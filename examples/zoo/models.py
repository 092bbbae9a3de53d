"""Three classic MNIST networks written as a user of tinygrad_cnn would write them: the network
of PyTorch's own MNIST example, LeNet-5, and a small CNN with batch normalisation."""

from tinygrad_cnn import nn, ops


class PyTorchExampleNet(nn.Module):
    """The network of pytorch/examples mnist/main.py: two 3x3 convolutions, max-pool, dropout,
    two linear layers; returns log-probabilities, trained with nll_loss."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)      # (N, 1, 28, 28) -> (N, 32, 26, 26)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)     # -> (N, 64, 24, 24)
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)                       # -> (N, 64, 12, 12)
        self.dropout1 = nn.Dropout(0.25)
        self.flatten = nn.Flatten()                       # -> (N, 9216)
        self.fc1 = nn.Linear(9216, 128)                   # -> (N, 128)
        self.relu3 = nn.ReLU()
        self.dropout2 = nn.Dropout(0.5)
        self.fc2 = nn.Linear(128, 10)                     # -> (N, 10)

    def forward(self, x):
        x = self.relu2(self.conv2(self.relu1(self.conv1(x))))
        x = self.flatten(self.dropout1(self.pool(x)))
        x = self.dropout2(self.relu3(self.fc1(x)))
        return ops.log_softmax(self.fc2(x), axis=1)       # (N, 10) log-probabilities


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998) as usually written today: 5x5 convolutions with tanh and
    2x2 average pooling, then linear layers 400 -> 120 -> 84 -> 10; returns logits."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)   # (N, 1, 28, 28) -> (N, 6, 28, 28)
        self.tanh1 = nn.Tanh()
        self.pool1 = nn.AvgPool2d(2)                      # -> (N, 6, 14, 14)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)      # -> (N, 16, 10, 10)
        self.tanh2 = nn.Tanh()
        self.pool2 = nn.AvgPool2d(2)                      # -> (N, 16, 5, 5)
        self.flatten = nn.Flatten()                       # -> (N, 400)
        self.fc1 = nn.Linear(400, 120)
        self.tanh3 = nn.Tanh()
        self.fc2 = nn.Linear(120, 84)
        self.tanh4 = nn.Tanh()
        self.fc3 = nn.Linear(84, 10)                      # -> (N, 10) logits

    def forward(self, x):
        x = self.pool1(self.tanh1(self.conv1(x)))
        x = self.pool2(self.tanh2(self.conv2(x)))
        x = self.tanh3(self.fc1(self.flatten(x)))
        return self.fc3(self.tanh4(self.fc2(x)))


class ConvBlock(nn.Module):
    """conv 3x3 with padding "same" -> BatchNorm2d -> ReLU: (N, C_in, H, W) -> (N, C_out, H, W).
    The convolution has no bias: BatchNorm's shift takes its place."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding="same",
                              bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class BatchNormCNN(nn.Module):
    """Two conv-BN-ReLU blocks, each followed by a 2x2 max-pool, and a linear layer; returns
    logits. The blocks sit in a ModuleList, so their parameters and buffers are the model's."""

    def __init__(self, channels=(16, 32)):
        super().__init__()
        c1, c2 = channels
        self.blocks = nn.ModuleList([ConvBlock(1, c1), ConvBlock(c1, c2)])
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(c2 * 7 * 7, 10)

    def forward(self, x):
        for block in self.blocks:                         # (N, 1, 28, 28) -> (N, 16, 14, 14)
            x = self.pool(block(x))                       # -> (N, 32, 7, 7)
        return self.fc(self.flatten(x))                   # -> (N, 1568) -> (N, 10) logits


# name -> (model class, the name of its loss in tinygrad_cnn.ops: nll_loss takes
# log-probabilities, cross_entropy takes logits)
MODELS = {"pytorch_example": (PyTorchExampleNet, "nll_loss"),
          "lenet5": (LeNet5, "cross_entropy"),
          "bn_cnn": (BatchNormCNN, "cross_entropy")}
