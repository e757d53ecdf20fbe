"""`python -m infra.eks token ...`: the exec plugin that kubeconfigs written by
`invoke kubeconfig` call on users' machines. Kept at this path so those files keep
working; the code lives in infra/kube/eks.py."""

import sys

from infra.kube.eks import main

if __name__ == "__main__":
    sys.exit(main())
