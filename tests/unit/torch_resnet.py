#!/usr/bin/env python3
"""torch_resnet.py - the PyTorch side of test_transfer.c's logits comparison: a torchvision
ResNet (random weights, randomised batch-norm statistics, eval mode) written as safetensors
by hand (8-byte little-endian header length, JSON header, raw little-endian tensors), two
random 64x64 images as raw float32 NHWC, and PyTorch's logits as raw float32.

    python3 tests/unit/torch_resnet.py OUTDIR [resnet18|resnet50] [classes]
"""
import json
import struct
import sys

import torch
import torchvision


def write_safetensors(path, state):
    header, blobs, off = {}, [], 0
    for name, t in state.items():
        t = t.detach().contiguous().cpu()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        b = t.numpy().astype("<f4" if dtype == "F32" else "<i8").tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    out = sys.argv[1]
    arch = sys.argv[2] if len(sys.argv) > 2 else "resnet18"
    k = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    torch.manual_seed(0)
    m = getattr(torchvision.models, arch)(weights=None, num_classes=k)
    g = torch.Generator().manual_seed(1)
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            c = mod.num_features
            mod.running_mean.copy_(torch.rand(c, generator=g) - 0.5)
            mod.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            mod.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
            mod.bias.data.copy_((torch.rand(c, generator=g) - 0.5) * 0.2)
    m.eval()
    x = torch.randn(2, 3, 64, 64, generator=g)
    with torch.no_grad():
        logits = m(x)
    write_safetensors(f"{out}/weights.safetensors", m.state_dict())
    x.permute(0, 2, 3, 1).contiguous().numpy().astype("<f4").tofile(f"{out}/x.f32")
    logits.numpy().astype("<f4").tofile(f"{out}/logits.f32")


if __name__ == "__main__":
    main()
