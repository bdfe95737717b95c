"""ResNet-18 (He et al. 2016) with any number of input channels, two classes and a
width multiplier.

The convolution class is a parameter so that the same layout serves the plain
network (source network, baselines) and the target networks whose kernels are
derived from the source (``pipeline.skt.transfer``): module names match one to one, which
is how a target convolution finds its source kernel.
"""

from torch import nn

STAGES = (1, 2, 4, 8)      # channel multipliers of layer1..layer4
BLOCKS = (2, 2, 2, 2)      # basic blocks per stage: ResNet-18


def _plain_conv(in_channels, out_channels, kernel_size, stride=1, padding=0):
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride, conv):
        super().__init__()
        self.conv1 = conv(in_channels, out_channels, 3, stride, 1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = conv(out_channels, out_channels, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(conv(in_channels, out_channels, 1, stride, 0),
                                            nn.BatchNorm2d(out_channels))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """Stem (7x7/2 conv, 3x3/2 max pool), four stages of two basic blocks, global
    average pooling, one linear layer. ``width`` 64 is the standard network."""

    def __init__(self, in_channels, num_classes=2, width=64, conv=None):
        super().__init__()
        conv = conv or _plain_conv
        self.in_channels = int(in_channels)
        self.width = int(width)
        self.conv1 = conv(in_channels, width, 7, 2, 3)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        layers = []
        channels = width
        for i, (mult, blocks) in enumerate(zip(STAGES, BLOCKS)):
            out = width * mult
            stage = [BasicBlock(channels, out, 1 if i == 0 else 2, conv)]
            stage += [BasicBlock(out, out, 1, conv) for _ in range(blocks - 1)]
            layers.append(nn.Sequential(*stage))
            channels = out
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        self.reset_parameters()

    def reset_parameters(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.pool(x).flatten(1))


def resnet18(in_channels, num_classes=2, width=64, conv=None):
    return ResNet18(in_channels, num_classes=num_classes, width=width, conv=conv)
