"""DACER (Wang et al. 2024) after happy-yan/DACER-Diffusion-with-Online-RL@848c1f2; see README.md for deviations."""
