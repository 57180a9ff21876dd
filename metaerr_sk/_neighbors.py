"""Neighbourhood statistics of a sample among labelled training points.

Errors cluster: where a classifier fails, its neighbours in input or embedding
space tend to fail too. These helpers give an architecture-agnostic view of that
neighbourhood - distances to each class (as in Trust Score, Jiang et al. 2018),
label agreement of the k nearest training points and their out-of-fold error
rate - and are shared by :class:`~metaerr_sk.baselines.TrustScore` and the
``"neighbors"`` meta-feature group.

Every query can exclude itself (``exclude_self=True``), which is how the
training samples get features that do not see their own label: the same
leave-one-out idea as the out-of-fold base probabilities.
"""

import numpy as np
from sklearn.neighbors import NearestNeighbors

_EPS = 1e-12


def _drop_self(distances, indices, n_keep):
    """Remove each row's own index (row ``i`` is training point ``i``).

    When exact duplicates make the point itself not appear among the returned
    neighbours, the farthest neighbour is dropped instead so every row keeps
    ``n_keep`` entries.
    """
    rows = np.arange(indices.shape[0])[:, None]
    is_self = indices == rows
    # Rows where the point is absent: drop the last (farthest) column.
    absent = ~is_self.any(axis=1)
    is_self[absent, -1] = True
    # Within a row keep only the first "self" hit.
    first = np.argmax(is_self, axis=1)
    keep = np.ones_like(is_self)
    keep[np.arange(len(first)), first] = False
    return (
        distances[keep].reshape(-1, n_keep),
        indices[keep].reshape(-1, n_keep),
    )


class ClassNeighbors:
    """Nearest-neighbour indexes over training points, overall and per class.

    Parameters
    ----------
    n_neighbors : int
        Neighbours used for label agreement and neighbour error rate.

    alpha : float
        Fraction of each class's points with the largest k-NN radius removed
        from that class's index before distances are measured (Trust Score's
        density filtering, as in Jiang et al.'s reference code). ``0`` keeps
        every point.
    """

    def __init__(self, n_neighbors=10, alpha=0.0):
        self.n_neighbors = n_neighbors
        self.alpha = alpha

    def fit(self, Z, y_index, n_classes):
        """Index ``Z`` whose labels are integer class indices ``y_index``."""
        self.n_classes_ = n_classes
        self.y_index_ = np.asarray(y_index)
        self.n_neighbors_ = min(self.n_neighbors, Z.shape[0] - 1)
        if self.n_neighbors_ < 1:
            raise ValueError(
                "At least two training samples are needed for neighbourhood "
                f"statistics, got {Z.shape[0]}."
            )
        self.all_ = NearestNeighbors().fit(Z)
        self.per_class_ = []
        # Maps each class's filtered index back to rows of Z, for self-exclusion.
        self.class_rows_ = []
        for c in range(n_classes):
            rows = np.flatnonzero(self.y_index_ == c)
            rows = self._density_filter(Z, rows)
            self.class_rows_.append(rows)
            self.per_class_.append(
                NearestNeighbors().fit(Z[rows]) if rows.size else None
            )
        return self

    def _density_filter(self, Z, rows):
        """Jiang et al.'s reference filter: a point's radius is the distance to
        its ``n_neighbors``-th nearest class point, itself counted first; those
        above the ``1 - alpha`` percentile of the radii leave. A class of fewer
        than ``n_neighbors`` points is kept whole (the reference code fails)."""
        k = self.n_neighbors
        if self.alpha <= 0 or rows.size < k:
            return rows
        points = Z[rows]
        radius = NearestNeighbors(n_neighbors=k).fit(points).kneighbors(points)[0]
        radius = radius[:, -1]
        return rows[radius <= np.percentile(radius, (1 - self.alpha) * 100)]

    def class_distances(self, Z, *, exclude_self=False):
        """Distance from each row of ``Z`` to the nearest point of each class.

        Returns an array of shape ``(n_samples, n_classes)``; a class with no
        (remaining) training point gets ``inf``.
        """
        out = np.full((Z.shape[0], self.n_classes_), np.inf)
        for c, (index, rows) in enumerate(
            zip(self.per_class_, self.class_rows_, strict=True)
        ):
            if index is None:
                continue
            n_query = min(2 if exclude_self else 1, rows.size)
            dist, idx = index.kneighbors(Z, n_neighbors=n_query)
            if exclude_self:
                # Row i of Z is training row i: skip it when it is the nearest.
                is_self = rows[idx[:, 0]] == np.arange(Z.shape[0])
                if n_query == 2:
                    dist[is_self, 0] = dist[is_self, 1]
                else:
                    dist[is_self, 0] = np.inf
            out[:, c] = dist[:, 0]
        return out

    def kneighbors(self, Z, *, exclude_self=False):
        """Distances and training indices of the ``n_neighbors_`` nearest."""
        k = self.n_neighbors_
        if not exclude_self:
            return self.all_.kneighbors(Z, n_neighbors=k)
        dist, idx = self.all_.kneighbors(Z, n_neighbors=k + 1)
        return _drop_self(dist, idx, k)


def trust_ratio(class_distances, pred_index):
    """Trust Score: distance to the nearest other class over distance to the
    predicted class. Large means the prediction sits deep in its own class."""
    rows = np.arange(class_distances.shape[0])
    d_pred = class_distances[rows, pred_index]
    others = class_distances.copy()
    others[rows, pred_index] = np.inf
    d_other = others.min(axis=1)
    return (d_other + _EPS) / (d_pred + _EPS)
