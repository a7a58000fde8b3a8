"""The tensor idioms of the PyTorch quickstart: formatting a loss, indexing with a 0-d
tensor, clone, transpose, comparisons, cumulative and sorted views of a small tensor."""

import torch
import torch.nn.functional as F

torch.manual_seed(0)
x = torch.tensor([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]])
print("shape", tuple(x.shape), x.size(1), x.dim(), x.numel(), x.dtype == torch.float)

loss = F.mse_loss(x, torch.zeros_like(x))
print(f"loss {loss:.4f}", f"{loss.item():.4f}", f"{x[0, 2]:6.2f}")

names = ["cat", "dog", "bird"]
idx = x[0].argmax()
print("argmax", names[idx], int(idx), idx.item())

y = x.clone()
y[0, 0] = 10.0
print("clone", x[0, 0].item(), y[0, 0].item())
print("t", x.t().shape == (3, 2), torch.equal(x.t().t(), x), x.T.tolist()[0])
print("eq", x.eq(4.0).sum().item(), x.ne(4.0).sum().item(), (x > 0).all().item(),
      (x > 0).any().item())
print("cumsum", x.cumsum(dim=1).tolist())
values, order = x[1].sort(descending=True)
print("sort", values.tolist(), order.tolist())
top = x.flatten().topk(2)
print("topk", top.values.tolist(), top.indices.tolist())
print("masked", x.masked_fill(x < 0, 0.0).sum().item(), x.square().sum().item())
print("long", x.long().tolist(), x.long().dtype == torch.long)
print("split", [tuple(t.shape) for t in x.split(2, dim=1)], len(x.chunk(2, dim=0)))
z = torch.tensor([0.5, 1.0, 2.0], requires_grad=True)
(z.log1p().sum() + z.prod()).backward()
print("grads", [f"{g:.4f}" for g in z.grad.tolist()])
