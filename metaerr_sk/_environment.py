"""What a benchmark ran on, recorded beside its results.

The same code on the same package versions can give numbers that differ in the
last bits between CPUs (BLAS kernels), and self-training and torch training
amplify that: the error-prediction page's torch cells moved by up to 0.006 when
re-run with the very same versions, and the page could not say which CPU it had
first run on. A page that names its CPU and BLAS says which comparison is like
for like.
"""

import os
import platform
from importlib import metadata

from threadpoolctl import threadpool_info

# Reported when installed; read from the installed metadata, so that asking does
# not import torch (seconds) into a benchmark that does not use it.
_PACKAGES = ("numpy", "scikit-learn", "lightgbm", "torch", "skorch")


def cpu_model():
    """The CPU's model name (``/proc/cpuinfo``), or ``platform.processor()``
    where that file is missing (not Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas_libraries():
    """The BLAS libraries numpy and scikit-learn call, with their thread counts."""
    keys = ("internal_api", "version", "num_threads", "architecture", "threading_layer")
    return [
        {key: lib.get(key) for key in keys}
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]


def run_environment(**extra):
    """The environment of a benchmark run, for its results JSON.

    Python and package versions (those installed of numpy, scikit-learn,
    lightgbm, torch, skorch), the CPU model and count, the machine type and
    the BLAS libraries; ``extra`` adds the benchmark's own keys or overrides
    these.
    """
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    env = {
        "python": platform.python_version(),
        **versions,
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "blas": blas_libraries(),
    }
    env.update(extra)
    return env


def describe_blas(env):
    """The BLAS libraries of a recorded environment in words, kernels first:
    OpenBLAS picks its kernels by CPU at run time, and one CPU model (AMD
    EPYC) has run both ``SkylakeX`` and ``Haswell`` ones here, and the
    self-training pages' numbers differ between the two. ``""`` where nothing
    was recorded (pages from before the BLAS was)."""
    described = []
    for lib in env.get("blas", []):
        words = f"{lib.get('internal_api')} {lib.get('version')}"
        if lib.get("architecture"):
            words += f" ({lib['architecture']} kernels)"
        if words not in described:
            described.append(words)
    return ", ".join(described)
