# core/: the actor runtime.
PUB_HEADERS += core/pinion.h
