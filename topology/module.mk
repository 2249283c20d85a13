# topology/: hwloc discovery, placement plan, pinning; plus the shared base.
LIB_SRCS    += topology/base.c
LIB_SRCS    += topology/cpulist.c topology/discover.c topology/config.c \
	       topology/plan.c topology/print.c topology/pin.c
PUB_HEADERS += topology/pn_base.h topology/pn_topology.h
TOOLS       += pinion-topo
pinion-topo_SRCS := topology/pinion-topo.c
