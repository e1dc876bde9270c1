"""Python stubs generated from ``proto/nearmatch/v1/nearmatch.proto``.

Regenerate with ``python -m search.proto_gen.regen`` after editing the proto;
``tests/test_server_proto.py`` fails when the committed stubs are stale.
"""
