"""Generate (or check) the gRPC stubs in this package from the .proto files.

    python -m search.proto_gen.regen          # rewrite the stubs
    python -m search.proto_gen.regen --check  # exit 1 if the committed stubs are stale

protoc writes ``nearmatch/v1/nearmatch_pb2*.py`` importing ``nearmatch.v1``;
the stubs live flat in ``search.proto_gen``, so that one import line is
rewritten. The descriptor keeps the proto's own name (``nearmatch/v1/nearmatch.proto``),
which is what server reflection reports.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO_ROOT / "proto"
PROTO_FILE = "nearmatch/v1/nearmatch.proto"
OUT_DIR = Path(__file__).resolve().parent
GENERATED = ("nearmatch_pb2.py", "nearmatch_pb2.pyi", "nearmatch_pb2_grpc.py")


def generate() -> dict[str, str]:
    """Run protoc (grpcio-tools) and return {file name: text} of the stubs."""
    from grpc_tools import protoc  # build-time tool, imported only here

    include = Path(protoc.__file__).resolve().parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            str(PROTO_ROOT / PROTO_FILE),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed on {PROTO_FILE}")
        produced = Path(tmp) / Path(PROTO_FILE).parent
        out = {name: (produced / name).read_text() for name in GENERATED}
    out["nearmatch_pb2_grpc.py"] = out["nearmatch_pb2_grpc.py"].replace(
        "from nearmatch.v1 import nearmatch_pb2", "from search.proto_gen import nearmatch_pb2"
    )
    return out


def fresh_descriptor() -> bytes:
    """The FileDescriptorProto protoc builds from the .proto now, serialized."""
    from google.protobuf import descriptor_pb2
    from grpc_tools import protoc

    include = Path(protoc.__file__).resolve().parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        args = ["grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--descriptor_set_out={out}",
                str(PROTO_ROOT / PROTO_FILE)]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed on {PROTO_FILE}")
        descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    fresh = descriptor_set.file[0]
    # --descriptor_set_out fills json_name, which the embedded descriptor leaves out.
    for message in fresh.message_type:
        _clear_json_names(message)
    return fresh.SerializeToString(deterministic=True)


def _clear_json_names(message: "descriptor_pb2.DescriptorProto") -> None:  # type: ignore[name-defined]
    for field in message.field:
        field.ClearField("json_name")
    for nested in message.nested_type:
        _clear_json_names(nested)


def stale_files() -> list[str]:
    """Names of committed stubs that differ from a fresh generation."""
    fresh = generate()
    return [name for name, text in fresh.items()
            if not (OUT_DIR / name).exists() or (OUT_DIR / name).read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale stubs")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            sys.stderr.write(f"stale gRPC stubs: {', '.join(stale)}; run python -m search.proto_gen.regen\n")
            return 1
        return 0
    for name, text in generate().items():
        (OUT_DIR / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
