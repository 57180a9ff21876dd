"""Exact l2 nearest neighbours in bounded memory, and the selection built on them.

The selection core of Data-Centric Debugging (Singla et al., WACV 2024), public
so that it can be used without :class:`~metaerr_sk.DataCentricDebugger`, e.g. on
embeddings computed elsewhere:

- :func:`kneighbors_l2`: the ``k`` nearest pool rows of each query, exact, in
  chunks under a memory limit, with a pluggable backend (numpy, torch on a GPU,
  faiss);
- :func:`select_neighbors`: the pool indices to add to training, ``k`` per error
  sample or a global budget, optionally filtered on the pool's weak labels.
"""

from ._neighbors_search import kneighbors_l2
from ._selection import select_neighbors

__all__ = ["kneighbors_l2", "select_neighbors"]
