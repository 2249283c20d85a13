/* SPDX-License-Identifier: MIT */
/* The umbrella header: every public Pinion module. */
#ifndef PINION_H
#define PINION_H

#include "pn_alloc.h"
#include "pn_backend.h"
#include "pn_base.h"
#include "pn_core.h"
#include "pn_io.h"
#include "pn_metrics.h"
#include "pn_migrate.h"
#include "pn_msg.h"
#include "pn_request.h"
#include "pn_ring.h"
#include "pn_shutdown.h"
#include "pn_stats.h"
#include "pn_supervise.h"
#include "pn_topic.h"
#include "pn_topology.h"

#endif /* PINION_H */
