"""Loihi 2 constants, each defined once: the fixed-point arithmetic and the limits a
NetX network must respect to run on the chip as is.

Every other module imports its constants from here.  Each constant says where it
comes from.  Three kinds of source:

- **lava**: the bit widths of lava-nc 0.10's bit-accurate ``fixed_pt`` models, which
  Intel wrote to match the NeuroCore (``LavaPyType(..., precision=N)`` in
  ``lava/proc/lif/models.py``, ``lava/proc/sdn/models.py``, ``lava/proc/dense``).  A
  value outside these widths is silently wrapped or clipped by the simulation and
  is rejected or altered by the hardware compiler: **hard limits**.
- **lava-dl**: what lava-dl 0.6's ``netx`` enforces or assumes
  (``netx/hdf5.py``, ``netx/utils.py``): also hard limits.
- **brief**: Intel's public *Loihi 2 technology brief* (2021) and Intel's Loihi 2
  announcements.  These are chip-level capacities; how a given network maps onto
  cores depends on lava-loihi's compiler, which is closed.  Every per-core number
  derived from them is an **ESTIMATE** and is marked as such; resource estimates
  built on them are warnings, never errors.

Units: bits, time steps, neurons, bytes, as named.
"""
from __future__ import annotations

# ----------------------------------------------------------------------------- synapses
# lava: Dense/Conv bit-accurate models clip weights to 8 bits
# (lava.utils.weightutils.clip_weights(num_bits=8)); lava-dl's optimize_weight_bits
# packs a weight matrix into an 8-bit mantissa ("num_weight_bits" <= 8) plus a shared
# exponent.  Mixed-sign weights use a sign bit and steps of 2 (SLAYER exports even
# integers in [-256, 254]).
WEIGHT_MANTISSA_BITS = 8
# the range of weight integers a NetX file may hold (8-bit mantissa; SLAYER exports even
# integers, so 255 only appears in hand-written files)
WEIGHT_MIN, WEIGHT_MAX = -256, 255
# ESTIMATE (brief + Loihi 1 synapse format, NxSDK: weight exponent -8..7): the shared
# weight exponent that lava-loihi's NeuroCore synapse accepts.  Not checked by the open
# lava; lava-loihi's compiler checks its own range.
WEIGHT_EXP_MIN, WEIGHT_EXP_MAX = -8, 7

# lava-dl: netx/hdf5.py clips axonal delays to 62 ("Max delay exceeded limit of 62"
# in netx/utils.py) for lava's DelayDense; the hardware delay field is 6 bits wide
# (0..63) and lava keeps one slot for the current step.
MAX_DELAY = 62
DELAY_BITS = 6

# ----------------------------------------------------------------------------- messages
# lava-dl/LAVA_NOTES: graded spikes carry up to 24 bits on Loihi 2 (sigma-delta netx
# layers use 24-bit raw values, lava's sdn fixed models declare precision=24).  The
# brief describes integer-valued spike payloads; 24 bits is what lava/lava-dl use.
GRADED_MESSAGE_BITS = 24
BINARY_MESSAGE_BITS = 1      # a binary spike: the message itself is the event
# ours: ternary spikes in {-1, 0, +1} travel as signed graded spikes of 2 bits.
TERNARY_MESSAGE_BITS = 2
# lava-dl: a sigma-delta layer without ``messageBits`` sends 16-bit graded spikes.
SDNN_DEFAULT_MESSAGE_BITS = 16

# ----------------------------------------------------------------------------- neuron state
# lava: LIF fixed_pt declares u and v with precision=24; sigma-delta states (sigma, act,
# residue) are 24-bit too.  Two different bounds follow from the 24 bits -- named apart
# so that neither is mistaken for the other:
STATE_BITS = 24
#: the current ``u`` wraps: a value above +2**23 loses 2**24, one at or below -2**23
#: gains 2**24 (lava's ``PyLifModelBitAcc``).
CURRENT_WRAP = 1 << (STATE_BITS - 1)
#: the voltage ``v`` (and any 24-bit state) saturates to +-(2**23 - 1).
V_LIMIT = (1 << (STATE_BITS - 1)) - 1
# lava: LIF fixed_pt threshold vth is "unsigned 17-bit integer (0 to 131071)".
VTH_MANT_BITS = 17
VTH_MANT_MAX = (1 << VTH_MANT_BITS) - 1
# lava: sigma-delta fixed models declare vth with precision=24.
SDNN_VTH_BITS = 24
SDNN_VTH_MAX = (1 << SDNN_VTH_BITS) - 1
# lava: LIF fixed_pt du, dv are unsigned 12-bit (0..4095, unity 4096): one decay step is
# ``x * (4096 - d) >> 12`` applied to the magnitude (rounded toward zero).  Stock netx
# maps CUBA iDecay -> du = iDecay - 1 and vDecay -> dv, so iDecay must be 1..4096 and
# vDecay 0..4095 to be representable.
DECAY_BITS = 12
DECAY_SHIFT = DECAY_BITS
DECAY_UNITY = 1 << DECAY_BITS          # 4096: full decay in one step
DECAY_MAX = DECAY_UNITY - 1
# lava: LIF fixed_pt bias_mant is 13-bit signed, bias_exp 3-bit (netx uses bias_exp=6).
BIAS_MANT_BITS = 13
BIAS_MANT_MIN, BIAS_MANT_MAX = -(1 << (BIAS_MANT_BITS - 1)), (1 << (BIAS_MANT_BITS - 1)) - 1
# lava: a_in of LIF fixed_pt is added as a_in << 6 (the weight scale of netx), and the
# threshold is compared as vth << 6 (both MSB-aligned by 6 bits).
ACT_SHIFT = 6
VTH_SHIFT = 6
# lava: sigma-delta fixed_pt ``bias`` is declared int32 with precision=16 (signed).
SDNN_BIAS_BITS = 16
# lava-dl: netx builds CUBA layers with bias_exp = 6 (effective bias = bias_mant << 6);
# sigma-delta layers use spike_exp = state_exp = 6.
BIAS_EXP = 6
SDNN_EXP = 6

# ----------------------------------------------------------------------------- chip
# brief: a Loihi 2 chip has 128 neuro cores in its mesh and 6 embedded (Lakemont x86)
# processors; Intel's Loihi 2 papers and lava-loihi systems expose 120 neuro cores per
# chip to user networks.  We plan with the 120 usable cores.
NEURO_CORES_PER_CHIP = 120
NEURO_CORES_IN_MESH = 128
EMBEDDED_CPUS_PER_CHIP = 6
# brief: "up to 1 million neurons" and "up to 120 million synapses" per chip.
NEURONS_PER_CHIP = 1 << 20
SYNAPSES_PER_CHIP = 120_000_000
# brief: neuron state is allocated per core "from 4096 to 8192 depending on the neuron
# model" (8192 compartments at most).  ESTIMATE for our models: CUBA/LIF keep two
# 24-bit states (u, v) and sigma-delta keeps several (sigma, act, residue), so we
# assume the lower figure, 4096, for both; stateless integrators use 8192.
MAX_COMPARTMENTS_PER_CORE = 8192
NEURONS_PER_CORE_DEFAULT = 4096
# ESTIMATE: synaptic memory per neuro core.  Intel describes about 128 KB of SRAM per
# Loihi 2 core, flexibly partitioned between synapses, neuron state and routing; we
# budget 128 KiB for synapses and assume the state fits beside it within the
# neurons-per-core figure above.
SYNAPSE_MEMORY_BYTES_PER_CORE = 128 * 1024
# ESTIMATE: bits of synaptic memory per stored synapse of a sparse (non-conv) layer:
# the weight mantissa plus an index into the core's neurons (13 bits for 8192), rounded
# to whole bytes -- 3 bytes; plus DELAY_BITS when the layer has axonal delays.
SYNAPSE_INDEX_BITS = 13
# ESTIMATE: fan-in (distinct input axons) and fan-out (output axons/routes) a core can
# serve.  Loihi 1 had 4096 in-axons and 4096 out-axons per core (Davies et al., IEEE
# Micro 2018); Loihi 2 is described as more flexible.  We keep 4096 in-axons per core as
# the planning figure for the estimate, not as a hard limit.
FAN_IN_AXONS_PER_CORE = 4096
FAN_OUT_AXONS_PER_CORE = 4096

# Which neuron types have a NeuroCore model in lava-loihi, and their neurons per core,
# are properties of each family (loihi_snn.families: NeuronFamily.on_chip /
# neurons_per_core), not listed here.
#: layer types that map to NeuroCore synapses as is.
ON_CHIP_LAYER_TYPES = ("input", "dense", "dense_rec", "conv", "pool", "flatten")
