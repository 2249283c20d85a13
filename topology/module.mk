# topology/: hwloc discovery, placement plan, pinning; plus the shared base.
LIB_SRCS    += topology/base.c
PUB_HEADERS += topology/pn_base.h topology/pn_topology.h
