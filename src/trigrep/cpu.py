"""numpy's sort on AMD Zen 4, where its AVX-512 code is the slow one.

numpy sorts 32- and 64-bit integers with x86-simd-sort, whose AVX-512 partitioning stores
with `vpcompressd`/`vpcompressq` to memory: one instruction on Intel, microcoded at over a
hundred cycles on Zen 4 (numpy/x86-simd-sort#6; OpenJDK sends Zen 4 to its AVX2 sort for
that reason). Measured on a Zen 4 EPYC (2 cores) with numpy 2.4: 10M random uint32 sort
in 390 ms through AVX-512, in 59 ms through AVX2; `trigrep index --full` of the Linux tree,
mostly sorts, 24.1 s (46 s of CPU) against 10.9 s (19 s). The other numpy calls trigrep
makes ran as fast either way. numpy picks its code once, at import, by the environment
variable NPY_DISABLE_CPU_FEATURES: the CLI sets it before anything loads numpy; a program
using the API on such a machine can set it itself. A numpy built with AVX-512 in its
baseline (PyPI's, conda-forge's and Debian's are not) refuses to load with it: the user then
sets the variable to nothing, which the CLI leaves as it is.
"""

import os
import sys

# numpy's names of its AVX-512 code paths (a name the machine lacks is ignored).
AVX512_TARGETS = "X86_V4 AVX512_ICL AVX512_SPR"
ZEN4_FAMILY = "25"  # AMD's family 0x19: Zen 3 (no AVX-512) and Zen 4; Zen 5 (26) is fast


def is_zen4_family(cpuinfo: str) -> bool:
    """Whether the first processor of a /proc/cpuinfo is AMD's of family 0x19."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields.get("vendor_id") == "AuthenticAMD" and fields.get("cpu family") == ZEN4_FAMILY


def prefer_fast_numpy_sort() -> None:
    """Before numpy loads in this process (and in those it starts), keep it off AVX-512 on
    Zen 4, unless the user set NPY_DISABLE_CPU_FEATURES."""
    if "numpy" in sys.modules or "NPY_DISABLE_CPU_FEATURES" in os.environ:
        return
    try:
        with open("/proc/cpuinfo", "rb") as f:
            head = f.read(512).decode("ascii", "replace")
    except OSError:  # (not Linux)
        return
    if is_zen4_family(head):
        os.environ["NPY_DISABLE_CPU_FEATURES"] = AVX512_TARGETS
