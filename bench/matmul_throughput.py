"""Single-thread fp32 matmul throughput of torch and XLA on this CPU, in GFLOP per CPU-second
(``time.process_time``, so a loaded machine inflates it little): the 960 x 256 @ 256 x 256 product
that dominates a Brax-DMC PPO gradient step (5 x 256 value network, 960-sample minibatches).

    python bench/matmul_throughput.py [jax]
"""
from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("XLA_FLAGS","--xla_cpu_multi_thread_eigen=false")
import torch
torch.set_num_threads(1)
def bench(f, n=400):
    for _ in range(10): f()
    t=time.process_time()
    for _ in range(n): f()
    tt=(time.process_time()-t)/n
    return round(2*960*256*256/tt/1e9,1)
x=torch.randn(960,256); w=torch.randn(256,256,requires_grad=True); b=torch.randn(256)
def fb():
    y=torch.nn.functional.linear(x,w,b); y.sum().backward()
out={"mm":bench(lambda: x@w.detach()),"linear":bench(lambda: torch.nn.functional.linear(x,w.detach(),b)),"lin_fwd_bwd(x3)":bench(fb)*3}
if "jax" in sys.argv:
    import jax, jax.numpy as jnp
    xj=jnp.asarray(x.numpy()); wj=jnp.asarray(w.detach().numpy())
    f=jax.jit(lambda a,b: a@b)
    out["jax_mm"]=bench(lambda: f(xj,wj).block_until_ready())
print(sys.argv[1:], out)
