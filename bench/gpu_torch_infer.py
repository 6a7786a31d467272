# gpu_torch_infer.py - PyTorch's inference images/s for the networks of bench/gpu.sh (issue 17),
# the inference half that ../shared/benchmarks/gpu_torch.py (training only) lacks: eval mode,
# no_grad, channels_last, random images, the same batch sizes and precision. JSON lines.
# usage: python3 bench/gpu_torch_infer.py
import json, time, torch, torch.nn as nn
import torchvision
dev = "cuda"
torch.backends.cudnn.benchmark = True
def ref_net(c=10):
    return nn.Sequential(nn.Conv2d(3,32,3,padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32,64,3,padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64,128,3,padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(128,128,3,padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128,c))
def bench(name, net, size, batch, amp, steps=60, warm=15):
    net = net.to(dev).to(memory_format=torch.channels_last).eval()
    x = torch.randn(batch,3,size,size,device=dev).to(memory_format=torch.channels_last)
    def step():
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            p = torch.softmax(net(x).float(), 1)
        return p.cpu()  # the probabilities back on the host, as astrotrain's inference does
    for _ in range(warm): step()
    torch.cuda.synchronize(); t = time.perf_counter()
    for _ in range(steps): step()
    torch.cuda.synchronize(); dt = time.perf_counter() - t
    print(json.dumps({"net": name, "size": size, "batch": batch, "amp_bf16": amp,
                      "infer_img_per_s": round(steps*batch/dt,1)}), flush=True)
bench("reference", ref_net(), 64, 32, False)
bench("reference", ref_net(), 64, 256, False)
bench("reference", ref_net(), 64, 256, True)
for s in (128, 256):
    bench("resnet18", torchvision.models.resnet18(num_classes=10), s, 128, True, steps=30)
