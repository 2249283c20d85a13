# The README's examples, built and run as tests so they stay true.
UNIT_TESTS += tests/examples/hello tests/examples/pingpong \
	      tests/examples/tcp_server tests/examples/sigterm \
	      tests/examples/pool tests/examples/request \
	      tests/examples/feed

