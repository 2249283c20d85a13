/* SPDX-License-Identifier: MIT */
/*
 * rt/'s internal header: the top of core/, which sees every sub-module:
 * runtime create, start and destroy (runtime.c, which lists the features)
 * and the controller's side of staged shutdown (shutdown.c).
 */
#ifndef PN_RT_INT_H
#define PN_RT_INT_H

#include "mig_int.h"
#include "obs_int.h"
#include "pn_shutdown.h"
#include "sup_int.h"
#include "topic_int.h"

/* signals.c: stop pn_runtime_signals()'s waiter (destroy). */
void pn__signals_stop(struct pn_runtime *rt);

#endif /* PN_RT_INT_H */
