"""The names of the methods, which the workflow needs when it parses.

Kept free of heavy imports (numpy, scikit-learn, torch): Snakemake imports this
on every start, a dry run included.
"""

#: the paper's classical baselines (Table 3)
CLASSICAL = ("svm", "knn", "random_forest", "decision_tree")
#: the torchvision CNNs of Table 3 that are run
CNNS = ("resnet18", "shufflenet_v2", "googlenet", "mobilenet_v2", "mnasnet", "efficientnet_b0")
#: Paper Table 5 variants: label and the ``skt`` settings switched off.
ABLATIONS = {
    "r_s_mask": ("R-S-Mask", {"soft_mask": False}),
    "r_d_convolution": ("R-D-Convolution", {"dilation": False}),
    "r_sk_transfer": ("R-Sk-Transfer", {"transfer": False}),
    "r_s_distillation": ("R-S-Distillation", {"distillation": False}),
}
