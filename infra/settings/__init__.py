"""Params (validated settings per environment), the RDS/EKS catalogue, the image-tag rule."""
