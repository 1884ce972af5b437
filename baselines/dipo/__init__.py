"""DIPO baseline (Yang et al. 2023), reimplemented from BellmanTimeHut/DIPO@c6d8d1b; see README.md."""
