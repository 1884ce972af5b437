"""FPO (Flow Policy Optimization, McAllister et al. 2025) and FPO++ settings; see README.md."""
