"""The Kubernetes step: render k8s/, apply in phases, migrate, roll out, prune; EKS tokens."""
