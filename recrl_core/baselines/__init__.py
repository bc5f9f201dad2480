"""Simple, strong baselines every results table includes (Ferrari Dacrema et al., RecSys 2019)."""
