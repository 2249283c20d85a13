# io/: TCP, UDP and files over each shard's io_uring (pn_io.h), and the
# pinion-echo tool (an echo server with one listener per shard).
PUB_HEADERS += io/pn_io.h
LIB_SRCS    += io/io.c io/uring.c io/stream.c io/tcp.c io/udp.c io/file.c
TOOLS       += pinion-echo
pinion-echo_SRCS := io/pinion-echo.c
