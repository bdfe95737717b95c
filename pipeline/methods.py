"""The names of the methods, which the workflow needs when it parses.

Kept free of heavy imports (numpy, scikit-learn, torch): Snakemake imports this
on every start, a dry run included.
"""

#: the paper's classical baselines (Table 3)
CLASSICAL = ("svm", "knn", "random_forest", "decision_tree")
#: the Table 3 networks torchvision ships
TORCHVISION_CNNS = ("resnet18", "shufflenet_v2", "googlenet", "mobilenet_v2", "mnasnet", "efficientnet_b0")
#: the Table 3 networks no package ships, written here from their papers (pipeline/baselines/)
TABLE3_NETS = ("scnet", "t2t_vit_14", "snl")
#: every deep network of Table 3 but SKT, in the paper's order; all trained by the same code
CNNS = ("resnet18", "shufflenet_v2", "googlenet", "mobilenet_v2", "mnasnet", "scnet", "efficientnet_b0",
        "t2t_vit_14", "snl")
#: learners that score each cell (pipeline.learners), refitted per fold in the cross-validation
CELL_LEARNERS = ("wofe", "anchored_logistic", "context_forest")
#: the cell learners whose logit decomposes exactly into one share per input (their attribution maps)
ATTRIBUTED = ("wofe", "anchored_logistic")
#: Paper Table 5 variants: label and the ``skt`` settings switched off.
ABLATIONS = {
    "r_s_mask": ("R-S-Mask", {"soft_mask": False}),
    "r_d_convolution": ("R-D-Convolution", {"dilation": False}),
    "r_sk_transfer": ("R-Sk-Transfer", {"transfer": False}),
    "r_s_distillation": ("R-S-Distillation", {"distillation": False}),
}
