"""One frame per command and one module per command; the workload targets (EKS or local)."""
