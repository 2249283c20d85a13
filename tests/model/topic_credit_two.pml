/* SPDX-License-Identifier: MIT */
/*
 * BACKPRESSURE with two destination shards: a publish is refused while
 * either channel is full, and the refused publisher gets WRITABLE only when
 * neither is; a credit from one shard must make the home ask the other for
 * one if that one is still full. K = 3, D0's entry may unsubscribe; close is
 * left to the one-shard variants (with it this search grows to 7 million
 * states and 1.4 GB). Must verify.
 */
#define TWO
#include "topic_credit.pml"
