"""DPPO (irom-lab/dppo@7b10df6): PPO on the denoising chain of a DDPM policy, run from scratch; see README.md."""
