"""Shared building blocks that belong to no single algorithm.

``gaussian``: pure Gaussian-policy loss pieces (log-prob, entropy, clipped surrogate, clipped value
loss). ``ppo``: PPO's loop settings (``PPOLoopConfig``), rollout bookkeeping with GAE and time-out
bootstrap, and the ``epochs x minibatches`` clipped-surrogate update, used by Gaussian PPO, CPPO and
every other algorithm that runs a PPO step on a Gaussian.
"""
