"""Gaussian PPO following rsl_rl (leggedrobotics/rsl_rl@c281c32); see README.md for deviations."""
