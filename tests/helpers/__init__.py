"""Code shared by the test files (import as ``from helpers import ...``).

``tests/`` is on ``sys.path`` through ``pythonpath = ["tests"]`` in pyproject.toml.
- paths: the repository root and the shared lava-dl reference networks
  (``LOIHI_SNN_SHARED_NETX`` override);
- netx_files: the one NetX file writer;
- runners: stock lava-dl netx runs, the Oxford input;
- slayer_nets: small random SLAYER networks and their export;
- cli: the CLI in a fresh interpreter and its one-line errors.
"""
from helpers.cli import assert_one_error_line, cli
from helpers.netx_files import (CUBA, CUBA_BASIC, dense_netx, fixed_bytes, pool_netx, put,
                                put_type, string_field, write_layer, write_netx, write_neuron)
from helpers.paths import NETWORKS, REPO_ROOT, SHARED_NETX, shared_network
from helpers.runners import oxford_input, run_stock_netx
from helpers.slayer_nets import (NEURON, SLAYER_IDS, SLAYER_NETS, SLAYER_STEPS, export_slayer,
                                 net_conv, net_dense, net_dense_delay, net_input_layer,
                                 net_pool, net_recurrent, slayer_batch, slayer_eval,
                                 slayer_forward,
                                 tinynet_spec_with_bias)

__all__ = [
    "CUBA", "CUBA_BASIC", "NETWORKS", "NEURON", "REPO_ROOT", "SHARED_NETX", "SLAYER_IDS",
    "SLAYER_NETS", "SLAYER_STEPS", "assert_one_error_line", "cli", "dense_netx", "export_slayer",
    "fixed_bytes", "net_conv", "net_dense", "net_dense_delay", "net_input_layer", "net_pool",
    "net_recurrent", "oxford_input", "pool_netx", "put", "put_type", "run_stock_netx", "shared_network",
    "slayer_batch", "slayer_eval", "slayer_forward", "string_field", "tinynet_spec_with_bias", "write_layer",
    "write_netx", "write_neuron",
]
