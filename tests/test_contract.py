"""The Python <-> C contract: every params dataclass of the compiler against the C struct of the
same name, field by field, as clang parses textclf_kernels.h (its JSON AST), and the constants the
Python side reads from the headers."""
import json
import subprocess

import pytest

from toolchain import contract
from toolchain.contract import CStruct
from toolchain.emit import ops
from toolchain.resources import runtime_dir

KERNELS_HEADER = runtime_dir() / "textclf_kernels.h"


def _dataclasses() -> dict[str, type]:
    """Every CStruct subclass the operator modules (and their common module) define."""
    found = {}
    stack = list(CStruct.__subclasses__())
    while stack:
        cls = stack.pop()
        stack += cls.__subclasses__()
        found[cls.C_NAME] = cls
    return found


@pytest.fixture(scope="module")
def c_structs() -> dict[str, list[tuple[str, str]]]:
    """typedef name -> [(field, C type)] of every struct typedef in textclf_kernels.h."""
    result = subprocess.run(["clang", "-Xclang", "-ast-dump=json", "-fsyntax-only", str(KERNELS_HEADER)],
                            capture_output=True, text=True, check=True)
    nodes = json.loads(result.stdout)["inner"]
    records = {n["id"]: n for n in nodes if n.get("kind") == "RecordDecl" and n.get("completeDefinition")}
    structs = {}
    for node in nodes:
        if node.get("kind") != "TypedefDecl" or not node.get("loc", {}).get("file", str(KERNELS_HEADER)):
            continue
        owned = [inner.get("ownedTagDecl", {}).get("id") for inner in node.get("inner", [])]
        record = next((records[i] for i in owned if i in records), None)
        if record is not None:
            structs[node["name"]] = [(f["name"], f["type"]["qualType"]) for f in record.get("inner", [])
                                     if f.get("kind") == "FieldDecl"]
    return structs


def test_the_operator_modules_are_all_registered():
    assert {"GATHER", "FULLY_CONNECTED", "CONV_2D", "BATCH_MATMUL", "ADD", "SUB", "SQUARED_DIFFERENCE", "MUL",
            "MEAN", "SUM", "REDUCE_MAX", "SOFTMAX", "LOGISTIC", "TANH", "RSQRT", "QUANTIZE", "CONCATENATION",
            "STRIDED_SLICE", "TRANSPOSE", "RESHAPE", "EXPAND_DIMS", "SQUEEZE"} <= set(ops.LOWERINGS)


def test_every_params_struct_has_a_dataclass_and_every_dataclass_a_struct(c_structs):
    assert set(_dataclasses()) == {name for name in c_structs if name.endswith(("_params", "_shape"))}


@pytest.mark.parametrize("name", sorted(_dataclasses()))
def test_dataclass_matches_the_c_struct_field_by_field(name, c_structs):
    """Same fields, same order, same types (a field the lowering forgot would be a TypeError when
    the dataclass is built, instead of a silent zero in C)."""
    expected = [(field, c_type.replace("int32_t[6]", f"int32_t[{contract.MAX_DIMS}]")) for field, c_type in
                c_structs[name]]
    assert _dataclasses()[name].c_field_types() == expected


def test_constants_come_from_the_headers():
    from toolchain import tokenizer
    from toolchain.emit import tokenizer_tables

    kernels = contract.c_defines("textclf_kernels.h")
    c_tokenizer = contract.c_defines("textclf_tokenizer.h")
    assert contract.MAX_DIMS == kernels["TC_MAX_DIMS"] == 6
    assert contract.MAX_CONCAT_INPUTS == kernels["TC_MAX_CONCAT_INPUTS"]
    assert tokenizer.MAX_WORD_CHARS == c_tokenizer["TC_MAX_WORD_CHARS"]
    assert tokenizer_tables.CLASS_BLOCK_BITS == c_tokenizer["TC_CLASS_BLOCK_BITS"]
    assert tokenizer_tables.MAX_MAPPED == c_tokenizer["TC_MAX_MAPPED"]
    assert (tokenizer.PAD_ID, tokenizer.UNK_ID, tokenizer.CLS_ID, tokenizer.SEP_ID) == (
        c_tokenizer["TC_PAD_ID"], c_tokenizer["TC_UNK_ID"], c_tokenizer["TC_CLS_ID"], c_tokenizer["TC_SEP_ID"])
    assert len(tokenizer.SPECIAL_TOKENS) == c_tokenizer["TC_FIRST_PIECE_ID"]


def test_values_are_range_checked_when_a_dataclass_is_built():
    from toolchain.emit.ops.gather import GatherParams
    from toolchain.errors import ToolchainError

    with pytest.raises(ToolchainError, match="does not fit int32_t"):
        GatherParams(outer_size=1, axis_size=2**31, index_count=1, inner_size=1)
    with pytest.raises(ToolchainError, match="not an integer"):
        GatherParams(outer_size=True, axis_size=1, index_count=1, inner_size=1)
    with pytest.raises(TypeError):
        GatherParams(outer_size=1, axis_size=1, index_count=1)  # a forgotten field
