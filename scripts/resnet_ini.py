#!/usr/bin/env python3
"""resnet_ini.py - writes configs/resnet18.ini and configs/resnet50.ini: torchvision's
ResNet-18 (basic blocks) and ResNet-50 (bottleneck blocks, stride on the 3x3 conv, as
torchvision >= 0.x "ResNet v1.5") as astrotrain [net] + layer sections, every layer named
after torchvision's module so that `init_names = torchvision_resnet` maps a state_dict onto it.

    python3 scripts/resnet_ini.py            # rewrites both files
"""
import sys

HEAD = """; {name}.ini - torchvision's {title} exactly (written by scripts/resnet_ini.py): 7x7 stride-2
; stem with batch norm, 3x3 stride-2 max-pool (pad 1), four stages of {blocks} {kind} blocks
; ({widths} channels; the first block of stages 2-4 strides by 2 and every block whose
; shape changes has a projection shortcut: 1x1 conv + batch norm reading the block's input),
; global average pool, dense head. Layer names are torchvision's modules, so PyTorch weights
; load with init_names = torchvision_resnet (README "Transfer learning").
;
; As shipped it fine-tunes on the real star/galaxy cutouts at 64x64 from random weights;
; start from PyTorch weights written as safetensors (see README) with
;   ./astrotrain --config configs/{name}.ini --set net.init={name}.safetensors
; The head (fc) is re-headed to the data's class count; ImageNet normalisation is set below.

[run]
seed = 42

[data]
path = data/star_galaxy_64px

[undersample]
strategy = none

[split]
train = 0.70
validation = 0.15
test = 0.15

[model]
type = cnn

[net]
width = 64
height = 64
channels = 3
batch = 32
epochs = 3
optimizer = adamw
learning_rate = 0.001
weight_decay = 0.0001
schedule = cosine
augment_d4 = true
init = uniform
init_names = torchvision_resnet
input_mean = 0.485,0.456,0.406
input_std = 0.229,0.224,0.225
"""


def conv(out, name, filters, size, stride, act, inp=None):
    out.append("[conv]")
    out.append(f"name = {name}")
    out.append(f"filters = {filters}")
    out.append(f"size = {size}")
    out.append(f"stride = {stride}")
    out.append(f"pad = {size // 2}")
    out.append("batch_normalize = true")
    out.append(f"activation = {act}")
    if inp is not None:
        out.append(f"input = {inp}")
    out.append("")


def shortcut(out, frm):
    out += ["[shortcut]", f"from = {frm}", "activation = relu", ""]


def write(name, title, layers, bottleneck):
    widths = [64, 128, 256, 512]
    out = [HEAD.format(name=name, title=title, blocks="-".join(map(str, layers)),
                       kind="bottleneck" if bottleneck else "basic",
                       widths="/".join(str(w * (4 if bottleneck else 1)) for w in widths))]
    out.append("; stem")
    conv(out, "conv1", 64, 7, 2, "relu")
    out += ["[maxpool]", "name = maxpool", "size = 3", "stride = 2", "pad = 1", ""]
    in_c = 64
    for s, (w, n) in enumerate(zip(widths, layers)):
        for b in range(n):
            stride = 2 if s > 0 and b == 0 else 1
            p = f"layer{s + 1}.{b}"
            out_c = w * 4 if bottleneck else w
            ds = stride != 1 or in_c != out_c
            out.append(f"; {p}")
            if bottleneck:
                conv(out, p + ".conv1", w, 1, 1, "relu")
                conv(out, p + ".conv2", w, 3, stride, "relu")
                conv(out, p + ".conv3", out_c, 1, 1, "linear")
                if ds:
                    conv(out, p + ".downsample", out_c, 1, stride, "linear", inp=-4)
                    shortcut(out, -2)
                else:
                    shortcut(out, -4)
            else:
                conv(out, p + ".conv1", w, 3, stride, "relu")
                conv(out, p + ".conv2", w, 3, 1, "linear")
                if ds:
                    conv(out, p + ".downsample", out_c, 1, stride, "linear", inp=-3)
                    shortcut(out, -2)
                else:
                    shortcut(out, -3)
            in_c = out_c
    out += ["; head", "[avgpool]", "name = avgpool", "", "[dense]", "name = fc", "units = 2", "", "[softmax]", ""]
    with open(f"configs/{name}.ini", "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    write("resnet18", "ResNet-18", [2, 2, 2, 2], False)
    write("resnet50", "ResNet-50", [3, 4, 6, 3], True)
    sys.exit(0)
