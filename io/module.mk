# io/: TCP, UDP and files over each shard's io_uring (pn_io.h), and the
# pinion-echo tool (an echo server with one listener per shard).
PUB_HEADERS += io/pn_io.h io/pn_io_udp.h io/pn_io_file.h io/pn_io_metrics.h
LIB_SRCS    += io/io.c io/uring.c io/stream.c io/tcp.c io/udp.c io/file.c \
	       io/guard.c
TOOLS       += pinion-echo
pinion-echo_SRCS := io/pinion-echo.c
# The metrics endpoint (GET /metrics) and io/'s metrics source, and
# pinion-top, a terminal view of the endpoint.
LIB_SRCS    += io/prom.c io/http.c
TOOLS       += pinion-top
pinion-top_SRCS := io/pinion-top.c io/top_parse.c io/top_json.c \
		   io/top_draw.c
