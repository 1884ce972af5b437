"""GenPO (wadx2019/genpo@5b6711b, flow_rsl_rl/): PPO with the exact likelihood of an invertible coupled flow; see README.md."""
