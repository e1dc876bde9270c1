"""The committed gRPC stubs match the .proto they were generated from."""

from __future__ import annotations

from importlib import metadata

import pytest
from google.protobuf import descriptor_pb2

from search.proto_gen import nearmatch_pb2, nearmatch_pb2_grpc, regen


def test_committed_stubs_describe_the_current_proto() -> None:
    # Independent of the grpcio-tools version: compare the schema, not the generated text.
    committed = descriptor_pb2.FileDescriptorProto.FromString(nearmatch_pb2.DESCRIPTOR.serialized_pb)
    fresh = descriptor_pb2.FileDescriptorProto.FromString(regen.fresh_descriptor())
    assert committed == fresh, "stubs are stale: run python -m search.proto_gen.regen"


def test_committed_stubs_are_byte_identical_when_tools_match() -> None:
    # With the grpcio-tools release that wrote them, regeneration must reproduce the files
    # exactly; another release formats differently, and the schema test above still guards.
    if metadata.version("grpcio-tools") != nearmatch_pb2_grpc.GRPC_GENERATED_VERSION:
        pytest.skip("grpcio-tools differs from the version that generated the stubs")
    assert regen.stale_files() == []


def test_service_has_every_rpc() -> None:
    service = nearmatch_pb2.DESCRIPTOR.services_by_name["Nearmatch"]
    assert {m.name for m in service.methods} == {
        "Search", "SearchUpload", "Match", "Ingest", "IngestUpload", "Delete", "GetAsset", "Stats", "ListAssets",
    }
    assert nearmatch_pb2.DESCRIPTOR.package == "nearmatch.v1"
