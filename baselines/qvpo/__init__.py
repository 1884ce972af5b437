"""QVPO baseline (wadx2019/qvpo@40a1974); registered as ``qvpo`` by ``baselines.qvpo.agent``."""
