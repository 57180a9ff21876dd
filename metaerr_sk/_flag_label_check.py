"""Which estimate of the flagged samples' labels to trust, checked on the pool.

The flagged deployment samples of :class:`~metaerr_sk.DataCentricDebugger`'s
label-free loop have no labels, and neither estimate of them is the better one
everywhere: the neighbour vote wins where a flagged sample's nearest pool
samples mostly share its class, a model fitted on the whole noisy pool wins
where it has learnt the regions the base fails in (``benchmarks/README.md``,
"Data-centric debugging"). :func:`compare_flag_labellings` asks the pool: it
takes pool samples that look like the flags - near them and likely failures of
the base by MetaErr's own estimate - labels them with each estimate, from the
other half of the pool only, and counts how often each reproduces their weak
labels.

Why weak labels can judge: if a weak label is the true one with probability
``1 - rho`` and otherwise any of the ``K - 1`` other classes alike, regardless
of the sample (symmetric noise), a labelling that is right on a share ``a`` of
the samples agrees with their weak labels on ``a * (1 - rho) + (1 - a) * rho /
(K - 1)`` of them in expectation, which grows with ``a`` while ``rho < (K -
1) / K``. Noise that favours particular wrong classes can reorder the two.
"""

import numpy as np


def compare_flag_labellings(
    Z_flagged,
    Z_pool,
    y_pool,
    *,
    labellings,
    error_proba,
    n_neighbors,
    search,
    rng,
    n_splits=1,
):
    """How often each labelling reproduces the weak labels of pool look-alikes.

    The pool is split at random into two halves. In each half, the *proxies*
    are, among the ``n_neighbors`` nearest samples of every flagged sample, the
    ``len(Z_flagged)`` that ``error_proba`` rates most likely to be failures
    (ties to the lower index); every labelling labels them from the other half.
    With ``n_splits`` > 1 this is repeated on as many random splits, and the
    agreement counted over all of them: one split's proxies are few, and on
    CIFAR-10 the two labellings' agreements differ by a few points only.

    Parameters
    ----------
    Z_flagged : ndarray of shape (n_flagged, n_features)
        Embeddings of the flagged samples.

    Z_pool : ndarray of shape (n_pool, n_features)
        Embeddings of the pool; at least two rows.

    y_pool : ndarray of shape (n_pool,)
        The pool's weak labels.

    labellings : dict of str to callable
        ``labelling(proxies, reference)`` returns the estimated labels of the
        pool rows ``proxies`` made from the pool rows ``reference`` only.

    error_proba : callable
        ``error_proba(rows)``: the predicted probability that the base is
        wrong on the pool rows ``rows``.

    n_neighbors : int
        Nearest samples per flagged sample that the proxies are taken from.

    search : callable
        ``search(Z_query, Z_reference, k)`` returns the ``(distances,
        indices)`` of the ``k`` nearest reference rows of every query row.

    rng : RandomState
        Draws the splits.

    n_splits : int, default=1
        Random splits of the pool to count over.

    Returns
    -------
    agreement : dict of str to float
        Per labelling, the share of the proxies whose weak label it gives.
    """
    half = Z_pool.shape[0] // 2
    splits = []
    for _ in range(n_splits):
        order = rng.permutation(Z_pool.shape[0])
        splits += [(order[:half], order[half:]), (order[half:], order[:half])]
    agree = dict.fromkeys(labellings, 0)
    n_proxies = 0
    for held, reference in splits:
        k = min(n_neighbors, held.size)
        _, near = search(Z_flagged, Z_pool[held], k)
        near = np.sort(held[np.unique(near)])
        likely = np.argsort(-error_proba(near), kind="stable")
        proxies = near[likely[: Z_flagged.shape[0]]]
        for name, labelling in labellings.items():
            agree[name] += int(np.sum(labelling(proxies, reference) == y_pool[proxies]))
        n_proxies += proxies.size
    return {name: count / n_proxies for name, count in agree.items()}
