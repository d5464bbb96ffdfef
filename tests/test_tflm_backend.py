"""What of the TFLite Micro backend can be checked without TFLM's C++ sources (not on any registry
reachable here): the generated resolver calls TFLM's method names, and in a board build
(TEXTCLF_BACKEND_TFLM) every C source of the libraries still compiles warning-free, since the C++
context stays out of C."""
import subprocess

from conftest import ROOT
from toolchain.emit import op_resolver

LIB = ROOT / "firmware" / "lib"


def test_c_sources_compile_in_a_tflm_board_build():
    sources = sorted((LIB / "textclf" / "src").rglob("*.c")) + sorted((LIB / "textclf_model" / "src").glob("*.c"))
    includes = [f"-I{LIB / name / 'src'}" for name in ("textclf", "textclf_model", "textclf_tflm")]
    for source in sources:
        result = subprocess.run(
            ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-DTEXTCLF_BACKEND_TFLM", *includes,
             "-fsyntax-only", str(source)],
            capture_output=True, text=True,
        )
        assert result.returncode == 0, f"{source.relative_to(ROOT)}:\n{result.stderr}"


# Method names as declared in TFLM's tensorflow/lite/micro/micro_mutable_op_resolver.h.
TFLM_METHODS = {
    "CONV_2D": "AddConv2D",
    "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "MAX_POOL_2D": "AddMaxPool2D",
    "FULLY_CONNECTED": "AddFullyConnected",
    "BATCH_MATMUL": "AddBatchMatMul",
    "REDUCE_MAX": "AddReduceMax",
    "RELU6": "AddRelu6",
    "L2_NORMALIZATION": "AddL2Normalization",
    "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM",
}


def test_op_resolver_uses_tflms_method_names():
    assert {op: op_resolver.resolver_method(op) for op in TFLM_METHODS} == TFLM_METHODS
