"""Constants of the kernel's state layout, importable without numba (the compiled kernel shares them)."""

RENORM_BELOW = 1e-150
LEDGER_SIZE = 5
