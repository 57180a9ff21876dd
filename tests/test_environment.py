"""What a benchmark page records about the machine it ran on."""

import os
import platform

from metaerr_sk._environment import (
    blas_libraries,
    cpu_model,
    describe_blas,
    run_environment,
)


def test_cpu_model_falls_back_without_proc_cpuinfo(monkeypatch):
    def no_file(*args, **kwargs):
        raise FileNotFoundError("/proc/cpuinfo")

    monkeypatch.setattr("builtins.open", no_file)
    monkeypatch.setattr(platform, "processor", lambda: "Test CPU 9000")
    assert cpu_model() == "Test CPU 9000"


def test_cpu_model_reads_model_name(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU @ 2.80GHz\nflags\t: x\n")
    real_open = open
    monkeypatch.setattr(
        "builtins.open",
        lambda path, *a, **k: real_open(
            cpuinfo if path == "/proc/cpuinfo" else path, *a, **k
        ),
    )
    assert cpu_model() == "Some CPU @ 2.80GHz"


def test_run_environment_records_versions_cpu_and_blas():
    env = run_environment()
    assert env["python"] == platform.python_version()
    # installed packages are read from their metadata
    import numpy as np
    import sklearn

    assert env["numpy"] == np.__version__
    assert env["scikit-learn"] == sklearn.__version__
    assert env["cpus"] == os.cpu_count()
    assert env["cpu"] == cpu_model() and env["cpu"]
    assert env["blas"] == blas_libraries()
    assert all("internal_api" in lib for lib in env["blas"])


def test_run_environment_extra_keys_add_and_override():
    env = run_environment(device="cpu", cpus=99)
    assert env["device"] == "cpu"
    assert env["cpus"] == 99


def test_describe_blas_names_each_library_and_its_kernels_once():
    env = {
        "blas": [
            {
                "internal_api": "openblas",
                "version": "0.3.31",
                "architecture": "Haswell",
            },
            {
                "internal_api": "openblas",
                "version": "0.3.30",
                "architecture": "Haswell",
            },
            {
                "internal_api": "openblas",
                "version": "0.3.30",
                "architecture": "Haswell",
            },
            {"internal_api": "mkl", "version": "2025.1", "architecture": None},
        ]
    }
    assert describe_blas(env) == (
        "openblas 0.3.31 (Haswell kernels), openblas 0.3.30 (Haswell kernels), "
        "mkl 2025.1"
    )
    assert describe_blas({}) == ""  # a page from before the BLAS was recorded
