"""SKT's model files: the source network and the trained SKT model, saved
atomically (``pipeline.nets.files``) with the metadata needed to rebuild them
(element names, width, dilations, crop)."""

from ..errors import InputError
from ..nets.files import load_torch, save_torch
from ..nets.resnet import resnet18
from .model import SKTModel

SOURCE_KIND = "skt-source"
SKT_KIND = "skt-model"
FORMAT = 1


def save_source(path, network, elements, **info):
    save_torch(path, {"kind": SOURCE_KIND, "format": FORMAT, "elements": list(elements),
                      "width": network.width, "in_channels": network.in_channels,
                      "state_dict": network.state_dict(), **info})


def load_source(path):
    """(ResNet18 with the saved weights, element names, the file's other entries)."""
    obj = load_torch(path, SOURCE_KIND)
    elements = list(obj["elements"])
    if len(elements) != int(obj["in_channels"]):
        raise InputError(f"{len(elements)} element names for {obj['in_channels']} input channels", path=path)
    network = resnet18(obj["in_channels"], 2, obj["width"])
    network.load_state_dict(obj["state_dict"])
    info = {k: v for k, v in obj.items() if k not in ("state_dict",)}
    return network, elements, info


def save_skt(path, model, **info):
    save_torch(path, {"kind": SKT_KIND, "format": FORMAT, "elements": model.elements,
                      "dilations": model.dilations, "width": model.width, "transfer": model.transfer,
                      "transfer_mode": model.transfer_mode, "soft_mask": model.mask is not None,
                      "names": model.names, "state_dict": model.state_dict(), **info})


def load_skt(path):
    """(SKTModel in eval mode on the CPU, the file's other entries)."""
    obj = load_torch(path, SKT_KIND)
    elements = list(obj["elements"])
    source = resnet18(len(elements), 2, obj["width"]) if obj["transfer"] else None
    model = SKTModel(elements, obj["dilations"], width=obj["width"], source=source,
                     transfer=obj["transfer"], transfer_mode=obj["transfer_mode"] or "product",
                     soft_mask=obj["soft_mask"])
    model.load_state_dict(obj["state_dict"])
    info = {k: v for k, v in obj.items() if k != "state_dict"}
    return model.eval(), info
