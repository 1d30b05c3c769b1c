"""The qonnx/FINN Transformations of each FINN step (FINN's builder steps, composed so each
stage's model is kept), plus fpgaflow's own from transforms.py. Imports are deferred: FINN
takes seconds to import."""
from __future__ import annotations

from ...core.errors import FpgaflowError


def apply(model, passes, stage: str):
    """Run transformations in order; a failure names the stage and the transformation."""
    for t in passes:
        try:
            model = model.transform(t)
        except FpgaflowError:
            raise
        except Exception as e:
            detail = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise FpgaflowError(f"FINN stage '{stage}': {type(t).__name__} failed: {detail}") from None
    return model


def minimize_bit_width() -> list:
    """FINN's weight/accumulator width minimization and threshold rounding (its builder's order)."""
    from finn.transformation.fpgadataflow.minimize_accumulator_width import MinimizeAccumulatorWidth
    from finn.transformation.fpgadataflow.minimize_weight_bit_width import MinimizeWeightBitWidth
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
    from qonnx.transformation.infer_datatypes import InferDataTypes

    # thresholds clipped to their input's range first: a requantizer on a skip path (unsigned
    # in, signed out) has thresholds below 0, which FINN's width minimization asserts against;
    # for an integer input x >= t <=> x >= ceil(t), and a threshold below the range always holds
    return [RoundAndClipThresholds(), InferDataTypes(), MinimizeWeightBitWidth(), MinimizeAccumulatorWidth(),
            InferDataTypes(), RoundAndClipThresholds(), InferDataTypes(), MinimizeWeightBitWidth(), InferDataTypes()]


def _tidy() -> list:
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import (
        GiveReadableTensorNames,
        GiveUniqueNodeNames,
        RemoveStaticGraphInputs,
    )
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    return [InferShapes(), FoldConstants(), GiveUniqueNodeNames(), GiveReadableTensorNames(), InferDataTypes(),
            RemoveStaticGraphInputs()]


def finn_onnx_passes() -> list:
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN

    from ...frontends.qonnx.batchnorm import BatchNormToThresholds
    from ...frontends.qonnx.pooling import MeanAsAveragePool, TruncAsQuant
    from . import transforms as ff
    from .avgpool import AveragePoolAsSum

    # a float BatchNorm becomes thresholds where the reference's own output steps
    return [MeanAsAveragePool(), TruncAsQuant(), BatchNormToThresholds(), ff.FoldBiasQuant(), ff.IntegerInput(),
            AveragePoolAsSum(), ff.QuantActToMultiThreshold(), ff.RejectOtherQuantActs(), ff.GlobalAveragePool(),
            ConvertQONNXtoFINN(), *_tidy()]


def branches(model) -> bool:
    """The graph forks or joins (a skip connection), or pools globally: it needs graph_passes."""
    return any(n.op_type in ("GlobalAveragePool", "GlobalAccPool") or model.is_fork_node(n) or model.is_join_node(n)
               for n in model.graph.node)


def _graph_passes() -> tuple[list, list]:
    """(layout, moves) for a graph, FINN's ResNet recipe: scales moved past forks and into the
    join's thresholds, Transposes pushed through forks and joins until they cancel. FINN's
    layout passes see one consumer only, so forked Transposes are merged before them."""
    import finn.transformation.streamline.absorb as absorb
    import finn.transformation.streamline.reorder as reorder
    from finn.transformation.streamline.reorder import MakeMaxPoolNHWC

    from . import transforms as ff
    from .avgpool import QuantAvgPoolNHWC

    layout = [ff.MergeForkedTransposes(), MakeMaxPoolNHWC(), QuantAvgPoolNHWC(),
              absorb.AbsorbTransposeIntoMultiThreshold(), MakeMaxPoolNHWC(), QuantAvgPoolNHWC(),
              absorb.AbsorbConsecutiveTransposes()]
    moves = [reorder.MoveLinearPastFork(), reorder.MoveLinearPastEltwiseAdd(), reorder.MoveTransposePastFork(),
             absorb.AbsorbConsecutiveTransposes(), absorb.AbsorbTransposeIntoMultiThreshold(),
             reorder.MoveTransposePastJoinAdd(), reorder.MoveMulPastJoinConcat(), reorder.MoveTransposePastJoinConcat(),
             absorb.AbsorbTransposeIntoMultiThreshold(),
             absorb.AbsorbConsecutiveTransposes()]
    return layout, moves


def streamline_passes(float_tail: bool = False, graph: bool = False) -> list:
    import finn.transformation.streamline.absorb as absorb
    from finn.transformation.fpgadataflow.convert_to_hw.global_acc_pool import InferGlobalAccPoolLayer
    from finn.transformation.streamline import Streamline
    from finn.transformation.streamline.reorder import MakeMaxPoolNHWC
    from qonnx.transformation.general import RemoveUnusedTensors
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul

    from . import transforms as ff
    from .avgpool import QuantAvgPoolNHWC

    tail = [InferDataLayouts(), RemoveUnusedTensors(), ff.BiasBeforeOutputScale(strict=not float_tail)]
    if graph:
        # a global average becomes an integer sum (GlobalAccPool) and a 1/pixels Mul, which the
        # last Streamline moves into the output's scale
        layout, moves = _graph_passes()
        return [absorb.AbsorbScalarBiasIntoMultiThreshold(), *moves, Streamline(), LowerConvsToMatMul(), *moves,
                *layout, *moves, Streamline(), InferGlobalAccPoolLayer(), *moves, *layout, Streamline(), *moves,
                *layout, Streamline(), *tail]
    return [absorb.AbsorbScalarBiasIntoMultiThreshold(), Streamline(), LowerConvsToMatMul(),
            MakeMaxPoolNHWC(), QuantAvgPoolNHWC(), absorb.AbsorbTransposeIntoMultiThreshold(), MakeMaxPoolNHWC(),
            QuantAvgPoolNHWC(), absorb.AbsorbConsecutiveTransposes(), Streamline(), *tail]


def hw_passes(rtl: bool = True, float_tail: bool = False) -> list:
    from finn.transformation.fpgadataflow.convert_to_hw.concat import InferConcatLayer
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
    from finn.transformation.fpgadataflow.convert_to_hw.duplicate_streams import InferDuplicateStreamsLayer
    from finn.transformation.fpgadataflow.convert_to_hw.elementwise_binary_operation import (
        InferElementwiseBinaryOperation,
    )
    from finn.transformation.fpgadataflow.convert_to_hw.pool import InferPool
    from finn.transformation.fpgadataflow.convert_to_hw.quantized_matrix_vector_activation import (
        InferQuantizedMatrixVectorActivation,
    )
    from finn.transformation.fpgadataflow.convert_to_hw.thresholding import InferThresholdingLayer
    from finn.transformation.fpgadataflow.convert_to_hw.vector_vector_activation import InferVectorVectorActivation
    from finn.transformation.move_reshape import RemoveCNVtoFCFlatten
    from finn.transformation.qonnx.give_unique_node_names_recursive import GiveUniqueNodeNamesRecursive
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    from . import transforms as ff

    # a depthwise convolution lowers to a MatMul annotated as depthwise: FINN's VVAU takes it (the
    # MVAU would not, and the two depthwise MatMuls of dscnn stayed unmapped). For RTL, thresholds
    # become layers of their own before the MVAUs are inferred: an MVAU that absorbs its thresholds
    # has only an HLS variant in finn-plus.
    matmuls = [InferVectorVectorActivation(), InferQuantizedMatrixVectorActivation()]
    thresholds = [InferThresholdingLayer()]
    return [*(thresholds + matmuls if rtl else matmuls + thresholds),
            InferPool(), InferConvInpGen(),
            RemoveCNVtoFCFlatten(),
            InferElementwiseBinaryOperation(InferElementwiseBinaryOperation.reject_output_dequant),
            InferConcatLayer(), InferDuplicateStreamsLayer(),   # a fork: one stream in, one per reader out
            GiveUniqueNodeNamesRecursive(), InferDataLayouts(), InferDataTypes(), InferShapes(),
            ff.RequireMapped(float_tail), *minimize_bit_width()]


def stream_passes(part: str) -> list:
    """What stitching the layers needs (FINN's step_set_fifo_depths does the same before Vivado):
    width converters where a producer's stream is not its consumer's, a small FIFO on every
    stream, both as RTL, at FINN's minimum depth: stitching then sizes each by simulation
    (rtl/fifo_sizing.py)."""
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.transformation.general import GiveUniqueNodeNames

    return [InsertDWC(), InsertFIFO(create_shallow_fifos=True), SpecializeLayers(part), GiveUniqueNodeNames()]
